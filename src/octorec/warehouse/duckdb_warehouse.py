"""The embedded DuckDB warehouse (the default): one file, Arrow in and out without copies."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from octorec.sharding import HASH_HEX_DIGITS
from octorec.warehouse.base import Warehouse, WarehouseBusyError, WarehouseError


class DuckDBWarehouse(Warehouse):
    """One open connection to the octorec DuckDB file."""

    dialect = "duckdb"

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        super().__init__()
        self.connection = connection
        self.path = path
        self.location = str(path)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.connection.execute(sql, list(params or [])).fetchall()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        try:
            return self.connection.sql(sql, params=list(params or [])).to_arrow_table()
        except duckdb.CatalogException as error:
            first_line = str(error).splitlines()[0]
            raise WarehouseError(
                f"{first_line} in {self.path}: materialise the upstream assets first, for "
                "example with `dagster job execute -j training_data_pipeline`"
            ) from None
        except duckdb.BinderException as error:
            first_line = str(error).splitlines()[0]
            raise WarehouseError(
                f"{first_line} in {self.path}: the table was written by an older octorec; run "
                "the pipeline again (`octorec run`) to rebuild it"
            ) from None

    @contextmanager
    def staged(self, name: str, rows: pa.Table, like: str | None = None) -> Iterator[None]:
        self.connection.register(name, rows)
        yield
        # Not on failure: the aborted transaction refuses it, and a later register replaces it.
        self.connection.unregister(name)

    def render_type_names(self, ddl: str) -> str:
        return ddl

    def shard_hash_sql(self, column: str) -> str:
        return f"CAST('0x' || substr(md5(lower({column})), 1, {HASH_HEX_DIGITS}) AS BIGINT)"

    def close(self) -> None:
        self.connection.close()


LOCK_WAIT_SECONDS = 10.0
"""How long opening waits for another process's connection to the file to close."""


def open_duckdb(
    path: Path, *, read_only: bool, lock_wait: float = LOCK_WAIT_SECONDS
) -> DuckDBWarehouse:
    """Open (or create) the DuckDB file at `path`.

    DuckDB lets one process write a file, or several read it, not both (nor, within a process,
    connections in both modes at once): a short-lived connection of another process (the API
    reading a new run, `octorec status`) or of this one is waited for up to `lock_wait`
    seconds before giving up.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(
            f"no octorec database at {path}: run the pipeline first (make demo) or set "
            "OCTOREC_DATABASE"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_wait
    pause = 0.02
    while True:
        try:
            connection = duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as error:
            # Another process's connection holds the file lock; one of this process (the API
            # writing feedback while it reads a new run) in the other mode refuses this one.
            text = str(error).lower()
            locked = "lock" in text or "different configuration" in text
            if locked and time.monotonic() + pause < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 0.5)
                continue
            if locked:
                raise WarehouseBusyError(
                    f"the DuckDB database {path} is in use by another process (a pipeline run "
                    f"writing to it?); waited {lock_wait:.0f} s"
                ) from None
            raise WarehouseError(f"cannot open the DuckDB database {path}: {error}") from None
        return DuckDBWarehouse(connection, path)

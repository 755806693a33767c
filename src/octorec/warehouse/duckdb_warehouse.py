"""The embedded DuckDB warehouse: raw upserts, atomic replacements and Arrow reads."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from octorec import constants as c
from octorec.warehouse.schema import PIPELINE_TABLES, RAW_TABLES

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or a write was refused; the message says which and why."""


def _checked(identifier: str) -> str:
    if not _IDENTIFIER.match(identifier):
        raise WarehouseError(f"refusing table or column name {identifier!r}")
    return identifier


class DuckDBWarehouse:
    """One open connection to the octorec DuckDB file."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.connection = connection
        self.path = path
        self._transaction_depth = 0

    def ensure_tables(self) -> None:
        """Create the raw and pipeline tables that do not exist yet."""
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {c.RAW_SCHEMA}")
        for table, columns in {**RAW_TABLES, **PIPELINE_TABLES}.items():
            self.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            # Columns added since a database was created are added in place (without NOT NULL,
            # which DuckDB cannot add to existing rows; the defaults fill them).
            for definition in columns.split(",\n"):
                definition = definition.strip()
                if definition.startswith("PRIMARY KEY") or "PRIMARY KEY" in definition:
                    continue
                self.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "
                    f"{definition.replace(' NOT NULL', '')}"
                )

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement that returns no rows (DDL, DML), to completion."""
        self.connection.execute(sql, list(params or [])).fetchall()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a read query and return its rows as Arrow.

        Raises:
            WarehouseError: a table it reads does not exist yet, which means an upstream asset
                was never materialised in this database.
        """
        try:
            return self.connection.sql(sql, params=list(params or [])).to_arrow_table()
        except duckdb.CatalogException as error:
            first_line = str(error).splitlines()[0]
            raise WarehouseError(
                f"{first_line} in {self.path}: materialise the upstream assets first, for "
                "example with `dagster job execute -j training_data_pipeline`"
            ) from None

    def count(self, table: str) -> int:
        """The number of rows in a table."""
        rows = self.connection.execute(f"SELECT count(*) FROM {_checked(table)}").fetchall()
        return int(rows[0][0])

    def upsert(self, table: str, rows: pa.Table, key: Sequence[str]) -> int:
        """Insert rows, replacing those with the same natural key; all or nothing.

        Returns:
            The number of rows written.
        """
        if rows.num_rows == 0:
            return 0
        columns = [_checked(name) for name in rows.column_names]
        key_columns = [_checked(name) for name in key]
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
        self.connection.register("_octorec_staged", rows)
        try:
            with self.transaction():
                self.execute(
                    f"INSERT INTO {_checked(table)} ({', '.join(columns)}) "
                    f"SELECT {', '.join(columns)} FROM _octorec_staged "
                    f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}"
                )
        finally:
            self.connection.unregister("_octorec_staged")
        return rows.num_rows

    def replace(self, table: str, rows: pa.Table) -> int:
        """Replace all of a table's rows in one transaction.

        Readers see either the previous rows or the new ones, never a mix or an empty table, and
        a failure part-way leaves the previous rows in place.
        """
        columns = [_checked(name) for name in rows.column_names]
        self.connection.register("_octorec_staged", rows)
        try:
            with self.transaction():
                self.execute(f"DELETE FROM {_checked(table)}")
                self.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(columns)} FROM _octorec_staged"
                )
        finally:
            self.connection.unregister("_octorec_staged")
        return rows.num_rows

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit the block's statements together, or none of them.

        Nested blocks join the outermost transaction.
        """
        if self._transaction_depth:
            self._transaction_depth += 1
            try:
                yield
            finally:
                self._transaction_depth -= 1
            return
        self.execute("BEGIN TRANSACTION")
        self._transaction_depth = 1
        try:
            yield
        except BaseException:
            self.execute("ROLLBACK")
            raise
        finally:
            self._transaction_depth = 0
        self.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (and release the file lock)."""
        self.connection.close()


@contextmanager
def open_warehouse(path: Path, *, read_only: bool = False) -> Iterator[DuckDBWarehouse]:
    """Open the DuckDB file at `path`, creating it and its tables when writing.

    Raises:
        WarehouseError: the file is missing (read-only), locked by another process or not a
            DuckDB database.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(
            f"no octorec database at {path}: run the pipeline first (make demo) or set "
            "OCTOREC_DATABASE"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        raise WarehouseError(f"cannot open the DuckDB database {path}: {error}") from None
    warehouse = DuckDBWarehouse(connection, path)
    try:
        if not read_only:
            warehouse.ensure_tables()
        yield warehouse
    finally:
        warehouse.close()

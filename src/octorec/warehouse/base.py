"""What every warehouse backend offers: Arrow reads, natural-key upserts, atomic replacements.

SQL handed to a warehouse uses `?` placeholders and DuckDB's type names; each backend renders
them in its own dialect. Identifiers are checked against a strict pattern before they are
formatted into SQL; values always travel as parameters.
"""

from __future__ import annotations

import abc
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from octorec import constants as c
from octorec.warehouse.schema import CACHES_KEYED_BY, PIPELINE_TABLES, RAW_TABLES

logger = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or a write was refused; the message says which and why."""


class WarehouseUnavailableError(WarehouseError):
    """The database server could not be reached right now; trying again later may work."""


class WarehouseBusyError(WarehouseUnavailableError):
    """Another process holds the embedded database file (a pipeline run writing to it)."""


def checked(identifier: str) -> str:
    """The identifier itself, if it is a plain (optionally schema-qualified) SQL name."""
    if not _IDENTIFIER.match(identifier):
        raise WarehouseError(f"refusing table or column name {identifier!r}")
    return identifier


class Warehouse(abc.ABC):
    """One open connection to octorec's database."""

    dialect: str
    location: str

    def __init__(self) -> None:
        self._transaction_depth = 0

    # -- what each backend provides ---------------------------------------------------------
    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement that returns no rows (DDL, DML), to completion."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run a read query and return its rows as Arrow.

        Raises:
            WarehouseError: a table it reads does not exist yet, which means an upstream asset
                was never materialised in this database.
        """

    @abc.abstractmethod
    def staged(self, name: str, rows: pa.Table, like: str | None = None) -> Any:
        """A context manager making `rows` readable as the relation `name` (bulk-loaded)."""

    @abc.abstractmethod
    def render_type_names(self, ddl: str) -> str:
        """DuckDB type names in DDL rewritten for this backend."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection (and release any lock it holds)."""

    @abc.abstractmethod
    def shard_hash_sql(self, column: str) -> str:
        """SQL computing `octorec.sharding.shard_hash` of a text column."""

    def lock_for_write(self, table: str) -> None:  # noqa: B027 (optional hook)
        """Serialise writers of `table` inside the current transaction, where the backend can."""

    # -- shared behaviour -------------------------------------------------------------------
    def ensure_tables(self) -> None:
        """Create the raw and pipeline tables (and any column added since) that are missing."""
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {c.RAW_SCHEMA}")
        self._drop_caches_with_an_old_key()
        for table, columns in {**RAW_TABLES, **PIPELINE_TABLES}.items():
            self.execute(f"CREATE TABLE IF NOT EXISTS {table} ({self.render_type_names(columns)})")
            # Columns added since a database was created are added in place (without NOT NULL,
            # which cannot be added to existing rows; the defaults fill them).
            for definition in columns.split(",\n"):
                definition = definition.strip()
                if "PRIMARY KEY" in definition:
                    continue
                column = self.render_type_names(definition.replace(" NOT NULL", ""))
                self.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}")

    def _drop_caches_with_an_old_key(self) -> None:
        # A primary key cannot be changed in place; a cache is cheaper to rebuild than to migrate.
        for table, key_column in CACHES_KEYED_BY.items():
            found = self.query(
                "SELECT count(*) AS n FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?",
                [table, key_column],
            )
            exists = self.query(
                "SELECT count(*) AS n FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = ?",
                [table],
            )
            if exists.column("n")[0].as_py() and not found.column("n")[0].as_py():
                self.execute(f"DROP TABLE IF EXISTS {table}")

    def count(self, table: str) -> int:
        """The number of rows in a table."""
        result = self.query(f"SELECT count(*) AS n FROM {checked(table)}")
        return int(result.column("n")[0].as_py())

    def upsert(self, table: str, rows: pa.Table, key: Sequence[str]) -> int:
        """Insert rows, replacing those with the same natural key; all or nothing.

        Returns:
            The number of rows written.
        """
        if rows.num_rows == 0:
            return 0
        columns = [checked(name) for name in rows.column_names]
        key_columns = [checked(name) for name in key]
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
        conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        with self.transaction(), self.staged("_octorec_staged", rows, like=checked(table)):
            self.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {', '.join(columns)} FROM _octorec_staged "
                f"ON CONFLICT ({', '.join(key_columns)}) {conflict}"
            )
        return rows.num_rows

    def replace(self, table: str, rows: pa.Table) -> int:
        """Replace all of a table's rows in one transaction.

        Readers see either the previous rows or the new ones, never a mix or an empty table, and
        a failure part-way (or a killed process) leaves the previous rows in place.
        """
        columns = [checked(name) for name in rows.column_names]
        with self.transaction():
            self.lock_for_write(table)
            with self.staged("_octorec_staged", rows, like=checked(table)):
                self.execute(f"DELETE FROM {table}")
                self.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(columns)} FROM _octorec_staged"
                )
        return rows.num_rows

    def shard_condition(self, column: str, shard: int, shards: int) -> tuple[str, list[int]]:
        """A SQL condition true for the rows whose `column` (a name) is in `shard` of `shards`
        (`octorec.sharding.shard_of`), and its parameters; with one shard, every row."""
        if shards == 1:
            return "TRUE", []
        return f"({self.shard_hash_sql(checked(column))} % ?) = ?", [shards, shard]

    def replace_shard(
        self, table: str, rows: pa.Table, key_column: str, shard: int, shards: int
    ) -> int:
        """Replace one shard's rows of a table (`replace` with one shard) in one transaction.

        The shard's previous rows (those whose `key_column` belongs to the shard, including
        names that no longer exist) go and `rows` come in; other shards' rows are untouched,
        so shards can write side by side and a repeated shard is idempotent.
        """
        if shards == 1:
            return self.replace(table, rows)
        columns = [checked(name) for name in rows.column_names]
        condition, params = self.shard_condition(key_column, shard, shards)
        with self.transaction():
            self.lock_for_write(table)
            with self.staged("_octorec_staged", rows, like=checked(table)):
                self.execute(f"DELETE FROM {table} WHERE {condition}", params)
                self.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(columns)} FROM _octorec_staged"
                )
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

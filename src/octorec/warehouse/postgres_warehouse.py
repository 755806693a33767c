"""The PostgreSQL warehouse (production): bulk loads with COPY, vectors as `real[]`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql
from psycopg.types.string import TextLoader

from octorec.sharding import HASH_HEX_DIGITS
from octorec.warehouse.base import (
    Warehouse,
    WarehouseError,
    WarehouseUnavailableError,
    checked,
)

logger = logging.getLogger(__name__)

# DuckDB type names used in octorec's DDL, and what PostgreSQL calls them.
_TYPE_NAMES = (
    (re.compile(r"\bVARCHAR\[\]"), "text[]"),
    (re.compile(r"\bFLOAT\[\]"), "real[]"),
    (re.compile(r"\bVARCHAR\b"), "text"),
    (re.compile(r"\bJSON\b"), "jsonb"),
    (re.compile(r"\bDOUBLE\b"), "double precision"),
)
_PLACEHOLDER = re.compile(r"\?")
# Column types psycopg writes in COPY's binary format straight from Python values.
_BINARY_SAFE_TYPES = frozenset(
    {
        "real[]",
        "text",
        "text[]",
        "integer",
        "bigint",
        "double precision",
        "boolean",
        "timestamp with time zone",
    }
)
# Connection failures that another attempt will not cure; anything else counts as transient.
_PERMANENT_REFUSALS = ("authentication failed", "does not exist", "no password supplied")


# What each part of a URL may hold unencoded. libpq ends the user:password part at the first
# '@' where Python's URL parser takes the last one, so a password holding '@', '/', '?' or '#'
# makes the two disagree on which text is the host: such URLs are refused, never guessed at.
_PERCENT = r"%[0-9A-Fa-f]{2}"
_USERINFO = re.compile(rf"^(?:[^@/?#%\x00-\x1f\x7f]|{_PERCENT})*$")
_HOST = re.compile(
    rf"^(?:(?:[A-Za-z0-9._~!$&'()*+;=-]|{_PERCENT})*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]+))?$"
)
_DATABASE = re.compile(rf"^(?:[^@/:?#%\x00-\x1f\x7f]|{_PERCENT})*$")
_QUERY = re.compile(rf"^(?:[^@?#%\x00-\x1f\x7f]|{_PERCENT})*$")
_ENCODE_HINT = (
    "percent-encode special characters in the user name and password (@ as %40, / as %2F, "
    ": as %3A, ? as %3F, # as %23, % as %25), for example with python3 -c "
    "'import getpass, urllib.parse; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))'"
)


def _url_problem(url: str) -> str | None:
    """Which part of a PostgreSQL URL is malformed, in words that quote none of it."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres"):
        return "it does not start with postgresql://"
    if "#" in rest:
        return "it holds '#'"
    rest, _, query = rest.partition("?")
    authority, _, database = rest.partition("/")
    if authority.count("@") > 1:
        return "the part before the host holds more than one '@'"
    userinfo, _, hosts = authority.rpartition("@")
    if not _USERINFO.match(userinfo):
        return "the user name or password holds a '%' that is not a percent-encoding"
    for host in hosts.split(","):
        found = _HOST.match(host)
        if not found or (found["port"] and not 0 < int(found["port"]) < 65536):
            return "the part after '@' is not host:port (a special character in the password?)"
    if not _DATABASE.match(database):
        return "the database name holds '/', ':', '@' or '%' (a special character in the password?)"
    if not _QUERY.match(query):
        return "the part after '?' holds '@', '?' or '%' (a special character in the password?)"
    return None


def check_url(url: str) -> None:
    """Refuse a PostgreSQL URL that is not one, saying how to fix it and quoting none of it.

    Raises:
        WarehouseError: one line naming the malformed part (never its text, which may be part of
            a password) and how to percent-encode a password.
    """
    problem = _url_problem(url)
    if problem is not None:
        raise WarehouseError(
            f"DATABASE_URL is not a valid postgresql://user:password@host:port/database URL "
            f"({problem}): {_ENCODE_HINT}"
        )


def describe_url(url: str) -> str:
    """`host:port/database` of a PostgreSQL URL, never its user name or password.

    Raises:
        WarehouseError: the URL is not a valid one (see `check_url`).
    """
    check_url(url)
    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/")) or "postgres"
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{database}"


class PostgresWarehouse(Warehouse):
    """One open connection to a PostgreSQL database."""

    dialect = "postgres"

    def __init__(self, connection: psycopg.Connection[Any], location: str) -> None:
        super().__init__()
        self.connection = connection
        self.location = location

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(self._render(sql), list(params or []) or None)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(self._render(sql), list(params or []) or None)
                names = [column.name for column in cursor.description or []]
                rows = cursor.fetchall()
        except psycopg.errors.UndefinedTable as error:
            raise WarehouseError(
                f"{str(error).splitlines()[0]} in {self.location}: materialise the upstream "
                "assets first, for example with `dagster job execute -j training_data_pipeline`"
            ) from None
        except psycopg.errors.UndefinedColumn as error:
            raise WarehouseError(
                f"{str(error).splitlines()[0]} in {self.location}: the table was written by an "
                "older octorec; run the pipeline again (`octorec run`) to rebuild it"
            ) from None
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        return pa.table({name: list(values) for name, values in zip(names, columns, strict=True)})

    @contextmanager
    def staged(self, name: str, rows: pa.Table, like: str | None = None) -> Iterator[None]:
        """COPY the rows into a temporary table shaped like `like` (or inferred text columns)."""
        columns = [checked(column) for column in rows.column_names]
        table = pgsql.Identifier(checked(name))
        if like is None:
            definition = ", ".join(f"{c} text" for c in columns)
            self.execute(f"CREATE TEMPORARY TABLE {name} ({definition})")
        else:
            self.execute(
                f"CREATE TEMPORARY TABLE {name} AS "
                f"SELECT {', '.join(columns)} FROM {checked(like)} WITH NO DATA"
            )
        types = self._column_types(name, columns)
        binary = all(t in _BINARY_SAFE_TYPES for t in types)
        copy_sql = pgsql.SQL("COPY {} ({}) FROM STDIN{}").format(
            table,
            pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns),
            pgsql.SQL(" (FORMAT BINARY)" if binary else ""),
        )
        with self.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            if binary:  # vectors: ~10x faster than formatting every float as text
                copy.set_types(types)
            for row in zip(*(rows.column(c).to_pylist() for c in columns), strict=True):
                copy.write_row(row)
        yield
        # Not on failure: the transaction is aborted and its rollback drops the table.
        self.execute(f"DROP TABLE {name}")

    def _column_types(self, table: str, columns: list[str]) -> list[str]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            found = dict(cursor.fetchall())
        return [found[column] for column in columns]

    def render_type_names(self, ddl: str) -> str:
        for pattern, replacement in _TYPE_NAMES:
            ddl = pattern.sub(replacement, ddl)
        return ddl

    def lock_for_write(self, table: str) -> None:
        """Take a transaction-scoped advisory lock on `table`, saying so if another run holds it."""
        key = f"octorec:{table}"
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [key])
            row = cursor.fetchone()
            if row and row[0]:
                return
            logger.warning("another run is writing %s; waiting for it to finish", table)
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])

    def shard_hash_sql(self, column: str) -> str:
        bits = 4 * HASH_HEX_DIGITS
        return f"('x' || substr(md5(lower({column})), 1, {HASH_HEX_DIGITS}))::bit({bits})::bigint"

    def close(self) -> None:
        self.connection.close()

    @staticmethod
    def _render(sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


def open_postgres(url: str) -> PostgresWarehouse:
    """Connect to the PostgreSQL database at `url`.

    Raises:
        WarehouseError: one line naming host, port and database (never the password).
    """
    where = describe_url(url)
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except (ValueError, psycopg.ProgrammingError):
        # Never echo the parser's message: it quotes pieces of the URL, password included.
        raise WarehouseError(
            "DATABASE_URL is not a valid postgresql://user:password@host:port/database URL "
            "(percent-encode special characters in the password)"
        ) from None
    except psycopg.OperationalError as error:
        text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        # psycopg says 'connection to server at "host", port N failed: <reason>'; keep the reason.
        reason = text.split("failed: ")[-1] or "unknown error"
        reason = reason.replace(url, "<url>")
        message = f"cannot connect to PostgreSQL at {where}: {reason}"
        if any(refusal in reason for refusal in _PERMANENT_REFUSALS):
            raise WarehouseError(message) from None
        raise WarehouseUnavailableError(message) from None
    # JSON comes back as text, as on DuckDB; tables resolve in the schema dbt writes to.
    connection.adapters.register_loader("json", TextLoader)
    connection.adapters.register_loader("jsonb", TextLoader)
    connection.execute("SET search_path TO public")
    # Timestamps read back in UTC whatever the server's or the client's zone: fingerprints and
    # what readers see do not depend on where a worker runs.
    connection.execute("SET TIME ZONE 'UTC'")
    return PostgresWarehouse(connection, f"postgresql://{where}")

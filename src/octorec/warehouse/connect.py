"""Opening the configured warehouse: DuckDB by path, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from octorec.warehouse.base import Warehouse, WarehouseError, WarehouseUnavailableError


def is_postgres_url(location: str | Path) -> bool:
    """Whether a warehouse location is a PostgreSQL URL rather than a DuckDB file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


@contextmanager
def open_warehouse(
    location: str | Path, *, read_only: bool = False, lock_wait: float | None = None
) -> Iterator[Warehouse]:
    """Open the warehouse at `location` (a DuckDB path or a PostgreSQL URL), creating its tables
    when writing, and close it on exit. `lock_wait` bounds how long a DuckDB file held by
    another process is waited for (default `LOCK_WAIT_SECONDS`).

    Raises:
        WarehouseError: the database is missing (read-only), locked, unreachable or refuses the
            credentials; the message names it without any password.
    """
    if is_postgres_url(location):
        from octorec.warehouse.postgres_warehouse import open_postgres

        warehouse: Warehouse = open_postgres(str(location))
    else:
        from octorec.warehouse.duckdb_warehouse import LOCK_WAIT_SECONDS, open_duckdb

        wait = LOCK_WAIT_SECONDS if lock_wait is None else lock_wait
        warehouse = open_duckdb(Path(location), read_only=read_only, lock_wait=wait)
    try:
        if not read_only:
            warehouse.ensure_tables()
        yield warehouse
    finally:
        warehouse.close()


def connection_lost(error: BaseException, location: str | Path) -> WarehouseUnavailableError | None:
    """The one-line error for a PostgreSQL connection that broke while in use (the server was
    stopped or restarted, the network went away), or None when `error` is something else.

    Trying again later may work, as for a server that cannot be reached at the start."""
    if not is_postgres_url(location):
        return None
    import psycopg

    if not isinstance(error, psycopg.OperationalError):
        return None
    from octorec.warehouse.postgres_warehouse import describe_url

    try:
        where = describe_url(str(location))
    except WarehouseError:
        where = "DATABASE_URL"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = (lines[0] if lines else type(error).__name__).replace(str(location), "<url>")
    return WarehouseUnavailableError(f"lost the connection to PostgreSQL at {where}: {reason}")

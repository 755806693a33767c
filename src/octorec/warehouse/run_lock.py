"""One pipeline run at a time per warehouse: a lock held from a run's start to its end.

DuckDB: an exclusive `flock` on `<database>.run-lock` beside the file. PostgreSQL: a
session-level advisory lock on a connection kept open for the run. A second run waits, saying
why, and stops with a clear message if the first does not finish within the timeout.
Runs of one shard each (partitioned assets) take the lock *shared*: shards run side by side,
and a whole-pipeline run waits for them, as they wait for it.
"""

from __future__ import annotations

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from octorec.warehouse.base import WarehouseError
from octorec.warehouse.connect import is_postgres_url

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5
_ADVISORY_KEY = "octorec:pipeline-run"


class RunLockTimeoutError(WarehouseError):
    """Another run kept the warehouse for longer than this run was willing to wait."""


@contextmanager
def exclusive_run(
    location: str | Path, timeout_seconds: float, log: Any = logger, *, shared: bool = False
) -> Iterator[None]:
    """Hold the warehouse's run lock for the duration of the block (`shared`: along with other
    shard runs).

    `log` receives the "waiting" message (Dagster passes its run logger, so it shows in the run).
    """
    if is_postgres_url(location):
        with _postgres_lock(str(location), timeout_seconds, log, shared):
            yield
    else:
        with _file_lock(Path(location), timeout_seconds, log, shared):
            yield


def _wait(try_lock: Any, what: str, timeout_seconds: float, log: Any) -> None:
    if try_lock():
        return
    log.warning(
        "another octorec run is using %s; waiting up to %.0f s for it to finish",
        what,
        timeout_seconds,
    )
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        if try_lock():
            log.info("the other run finished; going ahead")
            return
    raise RunLockTimeoutError(
        f"stopped: another octorec run still uses {what} after {timeout_seconds:.0f} s "
        "(OCTOREC_RUN_LOCK_TIMEOUT)"
    )


@contextmanager
def _file_lock(database: Path, timeout_seconds: float, log: Any, shared: bool) -> Iterator[None]:
    database.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with open(f"{database}.run-lock", "a+") as handle:

        def try_lock() -> bool:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        _wait(try_lock, str(database), timeout_seconds, log)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _postgres_lock(url: str, timeout_seconds: float, log: Any, shared: bool) -> Iterator[None]:
    from octorec.warehouse.postgres_warehouse import describe_url, open_postgres

    warehouse = open_postgres(url)
    connection = warehouse.connection
    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"

    def try_lock() -> bool:
        row = connection.execute(f"SELECT {function}(hashtext(%s))", [_ADVISORY_KEY]).fetchone()
        return bool(row and row[0])

    try:
        _wait(try_lock, describe_url(url), timeout_seconds, log)
        yield
    finally:
        warehouse.close()  # closing the session releases its advisory lock

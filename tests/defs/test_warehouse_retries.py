"""PostgreSQL going away (issue 18, item 11): at the start of a run and in the middle of a step,
against a server of the test's own (stopped with `pg_ctl stop -m immediate`, as a crash), so
the session's server is left alone. Retries follow `OCTOREC_WAREHOUSE_RETRY_SECONDS` (short
here), doubling, three times; a server that stays away ends in one line."""

import threading
import time
from collections.abc import Iterator

import dagster as dg
import pytest

from octorec.defs.resources import WAREHOUSE_RETRIES, OctorecResource
from octorec.pipeline_run import failure_cause
from octorec.testing.postgres import PostgresServer, controlled_postgres_server, free_port

RETRY_SECONDS = 0.2


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    with controlled_postgres_server() as own:
        monkeypatch.setenv("DATABASE_URL", own.url)
        monkeypatch.setenv("OCTOREC_WAREHOUSE_RETRY_SECONDS", str(RETRY_SECONDS))
        yield own


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            return failure_cause(event.step_failure_data.error)
        if event.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE:
            return failure_cause(event.engine_event_data.error)
    raise AssertionError("no failure recorded")


def _retries(result: dg.ExecuteInProcessResult) -> int:
    return sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)


def _job(stop_at_attempts: set[int], server: PostgresServer, *, restart: bool):
    """One asset that reads the warehouse; on the listed attempts the server is stopped while
    the step holds its connection (and started again at the next attempt when `restart`)."""
    attempts: list[int] = []

    @dg.asset
    def reads_the_warehouse(
        context: dg.AssetExecutionContext, octorec: OctorecResource
    ) -> dg.MaterializeResult:
        attempt = context.retry_number
        attempts.append(attempt)
        if restart and attempt > 0 and attempt - 1 in stop_at_attempts:
            server.start()
        with octorec.warehouse() as warehouse:
            if attempt in stop_at_attempts:
                server.stop()
            rows = warehouse.query("SELECT 1 AS one").num_rows
        return dg.MaterializeResult(metadata={"rows": rows})

    return reads_the_warehouse, attempts


def test_a_connection_lost_mid_step_is_retried_and_the_step_succeeds(
    server: PostgresServer,
) -> None:
    asset, attempts = _job({0}, server, restart=True)
    result = dg.materialize([asset], resources={"octorec": OctorecResource()}, raise_on_error=False)
    assert result.success
    assert attempts == [0, 1] and _retries(result) == 1


def test_a_server_that_stays_away_ends_in_one_line_after_three_retries(
    server: PostgresServer,
) -> None:
    asset, attempts = _job({0}, server, restart=False)
    started = time.perf_counter()
    result = dg.materialize([asset], resources={"octorec": OctorecResource()}, raise_on_error=False)
    assert not result.success
    assert attempts == list(range(WAREHOUSE_RETRIES + 1))
    assert _retries(result) == WAREHOUSE_RETRIES
    # 0.2 + 0.4 + 0.8 s of waits at least: the documented schedule, scaled down.
    assert time.perf_counter() - started >= RETRY_SECONDS * (2**WAREHOUSE_RETRIES - 1)
    message = _failure(result)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{server.port}/"), message
    assert "\n" not in message and "pg-test-password" not in message


def test_the_start_of_a_run_retries_until_the_server_is_back(server: PostgresServer) -> None:
    server.stop()
    asset, attempts = _job(set(), server, restart=False)
    comeback = threading.Timer(RETRY_SECONDS * 1.5, server.start)  # during the second wait
    comeback.start()
    try:
        result = dg.materialize(
            [asset], resources={"octorec": OctorecResource()}, raise_on_error=False
        )
    finally:
        comeback.join()
    assert result.success
    assert attempts == [0]


def test_the_start_of_a_run_gives_up_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://octorec:Secret@127.0.0.1:{port}/octorec")
    monkeypatch.setenv("OCTOREC_WAREHOUSE_RETRY_SECONDS", str(RETRY_SECONDS / 4))
    asset, attempts = _job(set(), None, restart=False)  # type: ignore[arg-type]
    started = time.perf_counter()
    result = dg.materialize([asset], resources={"octorec": OctorecResource()}, raise_on_error=False)
    assert not result.success and attempts == []
    assert time.perf_counter() - started >= RETRY_SECONDS / 4 * (2**WAREHOUSE_RETRIES - 1)
    message = _failure(result)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{port}/octorec")
    assert "Secret" not in message and "\n" not in message

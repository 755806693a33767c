"""One run at a time per warehouse, on both backends, and through Dagster."""

import logging
import threading
import time
from pathlib import Path

import dagster as dg
import pytest

from octorec.definitions import defs
from octorec.warehouse.run_lock import RunLockTimeoutError, exclusive_run


@pytest.fixture(params=["duckdb", "postgres"])
def location(request: pytest.FixtureRequest, database: Path) -> str | Path:
    if request.param == "duckdb":
        return database
    return request.getfixturevalue("postgres_url")


def test_a_second_run_waits_for_the_first_and_says_why(
    location: str | Path, caplog: pytest.LogCaptureFixture
) -> None:
    first_holds = threading.Event()

    def first_run() -> None:
        with exclusive_run(location, timeout_seconds=5):
            first_holds.set()
            time.sleep(1.0)

    thread = threading.Thread(target=first_run)
    thread.start()
    assert first_holds.wait(timeout=30)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), exclusive_run(location, timeout_seconds=10):
        assert time.monotonic() - started > 0.5  # it waited until the first run let go
    thread.join()
    assert "another octorec run is using" in caplog.text


def test_a_second_run_stops_when_the_first_takes_too_long(location: str | Path) -> None:
    with (
        exclusive_run(location, timeout_seconds=5),
        pytest.raises(RunLockTimeoutError, match=r"stopped: another octorec run still uses"),
        exclusive_run(location, timeout_seconds=0.6),
    ):
        pass


def test_a_dagster_run_stops_clearly_while_another_holds_the_warehouse(
    database: Path, sample_slice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
    monkeypatch.setenv("OCTOREC_RUN_LOCK_TIMEOUT", "0.6")
    job = defs().resolve_job_def("training_data_pipeline")
    with exclusive_run(database, timeout_seconds=5), dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("github_data_ready")],
            raise_on_error=False,
        )
    assert not result.success
    messages = " ".join(
        event.event_specific_data.error.to_string()
        for event in result.all_events
        if event.event_type_value in ("RUN_FAILURE", "STEP_FAILURE", "PIPELINE_FAILURE")
        and getattr(event.event_specific_data, "error", None) is not None
    )
    assert "stopped: another octorec run still uses" in messages

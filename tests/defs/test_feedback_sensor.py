"""The feedback sensor evaluated by Dagster's own context on a real DuckDB file and the test
PostgreSQL: a run when likes or dismissals changed since the last one, a skip otherwise, and a
skip (never a crash) when the warehouse or its feedback table is not there."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from octorec.defs import automation
from octorec.defs.automation import FEEDBACK_TABLE, FEEDBACK_TAG, feedback_sensor
from octorec.settings import load_automation_settings
from octorec.warehouse import open_warehouse
from octorec.warehouse.fingerprints import table_fingerprint
from octorec.warehouse.schema import RAW_TABLES

# The table as the feedback API creates it (octorec.warehouse.schema once that work is in);
# the sensor reads no column by name, only the table's content.
FEEDBACK_COLUMNS = RAW_TABLES[FEEDBACK_TABLE]  # the table the API writes
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Daemon:
    """Evaluates the sensor as Dagster's daemon does: each tick gets the previous tick's cursor."""

    def __init__(self) -> None:
        self.sensor = feedback_sensor(load_automation_settings())
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        result = self.sensor(dg.build_sensor_context(cursor=self.cursor))
        assert isinstance(result, dg.SensorResult)
        if result.cursor is not None:
            self.cursor = result.cursor
        return result


def _skip(result: dg.SensorResult) -> str:
    assert result.skip_reason is not None, result.run_requests
    return result.skip_reason.skip_message or ""


def _only_request(result: dg.SensorResult) -> dg.RunRequest:
    assert result.skip_reason is None, _skip(result)
    [request] = result.run_requests or []
    return request


def _sql(location: str | Path, statement: str, params: list[object] | None = None) -> None:
    with open_warehouse(location) as warehouse:
        warehouse.execute(statement, params)


def _create_feedback_table(location: str | Path) -> None:
    with open_warehouse(location) as warehouse:
        warehouse.execute(
            f"CREATE TABLE IF NOT EXISTS {FEEDBACK_TABLE} "
            f"({warehouse.render_type_names(FEEDBACK_COLUMNS)})"
        )


def _like(location: str | Path, login: str, project: str, kind: str = "like") -> None:
    _sql(
        location,
        f"INSERT INTO {FEEDBACK_TABLE} VALUES (?, ?, ?, ?) ON CONFLICT "
        "(user_login, project_full_name) DO UPDATE SET kind = excluded.kind",
        [login, project, kind, AT],
    )


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str | Path:
    """An octorec warehouse on either backend, the one the settings name."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    if request.param == "postgres":
        location: str | Path = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("DATABASE_URL", str(location))
    else:
        location = tmp_path / "octorec.duckdb"
        monkeypatch.setenv("OCTOREC_DATABASE", str(location))
    with open_warehouse(location):
        pass  # the raw and pipeline tables, as a first run leaves them
    return location


def test_new_changed_and_withdrawn_feedback_each_start_one_run(warehouse: str | Path) -> None:
    daemon = Daemon()
    _sql(warehouse, f"DROP TABLE {FEEDBACK_TABLE}")  # a warehouse from before feedback existed
    assert "has no raw.feedback table yet" in _skip(daemon.tick())
    _create_feedback_table(warehouse)
    assert _skip(daemon.tick()) == "no new feedback since the last run (0 answers stored)"

    _like(warehouse, "alice", "acme/rocket")
    first = _only_request(daemon.tick())
    with open_warehouse(warehouse, read_only=True) as opened:
        sha = table_fingerprint(opened, FEEDBACK_TABLE)
    assert first.tags[FEEDBACK_TAG] == sha
    assert first.run_key == f"feedback-1-{sha}"
    assert _skip(daemon.tick()) == "no new feedback since the last run (1 answers stored)"
    assert _skip(daemon.tick()).startswith("no new feedback")

    _like(warehouse, "alice", "acme/rocket", kind="dismiss")  # the same row, another answer
    assert _only_request(daemon.tick()).run_key.startswith("feedback-2-")
    _sql(warehouse, f"DELETE FROM {FEEDBACK_TABLE}")  # withdrawn: the next run must forget it
    withdrawn = _only_request(daemon.tick())
    assert withdrawn.run_key.startswith("feedback-3-")
    assert _skip(daemon.tick()) == "no new feedback since the last run (0 answers stored)"
    assert json.loads(daemon.cursor or "")["runs"] == 3


def test_feedback_already_there_when_the_sensor_starts_runs_once(warehouse: str | Path) -> None:
    _create_feedback_table(warehouse)
    _like(warehouse, "bob", "acme/rocket")
    daemon = Daemon()
    assert _only_request(daemon.tick()).run_key.startswith("feedback-1-")
    assert _skip(daemon.tick()).startswith("no new feedback")


def test_no_warehouse_yet_skips_saying_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    missing = tmp_path / "never-run.duckdb"
    monkeypatch.setenv("OCTOREC_DATABASE", str(missing))
    daemon = Daemon()
    assert _skip(daemon.tick()) == (
        f"no octorec database at {missing}: run the pipeline first (make demo) or set "
        "OCTOREC_DATABASE; trying again at the next evaluation"
    )
    assert not missing.exists()  # looking never creates it


def test_a_busy_duckdb_file_skips_and_keeps_the_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    database = tmp_path / "octorec.duckdb"
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    _create_feedback_table(database)
    _like(database, "alice", "acme/rocket")
    daemon = Daemon()
    _only_request(daemon.tick())
    cursor = daemon.cursor
    monkeypatch.setattr(automation, "FEEDBACK_LOCK_WAIT_SECONDS", 0.5)
    # Another process writes the file (a pipeline run): DuckDB lets no one else open it.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"connection = duckdb.connect({str(database)!r})\n"
            "print('open', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        reason = _skip(daemon.tick())
    finally:
        writer.kill()
        writer.wait()
    assert reason.startswith(f"the DuckDB database {database} is in use by another process")
    assert reason.endswith("; trying again at the next evaluation")
    assert daemon.cursor == cursor


def test_an_unreachable_postgresql_skips_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from octorec.testing.processes import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://octorec:s3cret@127.0.0.1:{free_port()}/x")
    reason = _skip(Daemon().tick())
    assert reason.startswith("cannot connect to PostgreSQL at 127.0.0.1:")
    assert "s3cret" not in reason

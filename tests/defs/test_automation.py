"""The schedule and the snapshot sensor: the sensor evaluated by Dagster's own context on real
files, the schedule's cron and timezone from the settings, bad values refused at load."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from octorec.defs import automation, jobs
from octorec.defs.automation import (
    FEEDBACK_SENSOR,
    PIPELINE_SCHEDULE,
    SNAPSHOT_SENSOR,
    SNAPSHOT_TAG,
    snapshot_sensor,
)
from octorec.defs.jobs import PIPELINE_JOB
from octorec.settings import SettingsError, load_automation_settings
from octorec.sources.snapshot_digest import snapshot_digest

REPOS = "full_name,description,language,stars\nacme/rocket,Fast rockets,Go,10\n"
STARS = "user,repo_full_name\nalice,acme/rocket\n"
USERS = "login,bio\nalice,builds rockets\n"


@pytest.fixture
def snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small snapshot directory, the one `OCTOREC_SNAPSHOT_DIR` names."""
    directory = tmp_path / "snapshot"
    directory.mkdir()
    (directory / "repos.csv").write_text(REPOS)
    (directory / "user_stars.csv").write_text(STARS)
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(directory))
    monkeypatch.delenv("OCTOREC_SOURCE", raising=False)
    return directory


class Daemon:
    """Evaluates the sensor as Dagster's daemon does: each tick gets the previous tick's cursor."""

    def __init__(self) -> None:
        self.sensor = snapshot_sensor(load_automation_settings())
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        result = self.sensor(dg.build_sensor_context(cursor=self.cursor))
        assert isinstance(result, dg.SensorResult)
        if result.cursor is not None:
            self.cursor = result.cursor
        return result

    def tick_until_settled(self) -> dg.SensorResult:
        """Two ticks: the first sees new content, the second (same content) requests the run."""
        first = self.tick()
        assert not first.run_requests, first.run_requests
        assert "a run starts at the next evaluation" in _skip(first)
        return self.tick()


def _skip(result: dg.SensorResult) -> str:
    assert result.skip_reason is not None, result.run_requests
    return result.skip_reason.skip_message or ""


def _only_request(result: dg.SensorResult) -> dg.RunRequest:
    assert result.skip_reason is None, _skip(result)
    [request] = result.run_requests or []
    return request


def test_a_changed_snapshot_starts_one_run_and_an_unchanged_one_skips(snapshot: Path) -> None:
    daemon = Daemon()
    first = _only_request(daemon.tick_until_settled())
    sha = snapshot_digest(snapshot).sha256
    assert first.tags[SNAPSHOT_TAG] == sha
    assert first.run_key == f"snapshot-1-{sha}"
    assert json.loads(daemon.cursor or "") == {"requested": sha, "seen": sha, "runs": 1}

    assert "snapshot unchanged" in _skip(daemon.tick())
    assert "snapshot unchanged" in _skip(daemon.tick())

    (snapshot / "user_stars.csv").write_text(STARS + "bob,acme/rocket\n")
    second = _only_request(daemon.tick_until_settled())
    assert second.run_key != first.run_key
    assert second.tags[SNAPSHOT_TAG] == snapshot_digest(snapshot).sha256 != sha
    assert "snapshot unchanged" in _skip(daemon.tick())


def test_a_new_modification_time_or_a_rewrite_of_the_same_bytes_starts_nothing(
    snapshot: Path,
) -> None:
    daemon = Daemon()
    _only_request(daemon.tick_until_settled())
    later = (snapshot / "repos.csv").stat().st_mtime + 3600
    for name in ("repos.csv", "user_stars.csv"):
        os.utime(snapshot / name, (later, later))
    assert "snapshot unchanged" in _skip(daemon.tick())
    # Copied over by a tool that writes every byte again: the content is the same.
    (snapshot / "repos.csv").unlink()
    (snapshot / "repos.csv").write_text(REPOS)
    shutil.copy(snapshot / "user_stars.csv", snapshot / "stars.tmp")
    (snapshot / "stars.tmp").replace(snapshot / "user_stars.csv")
    assert "snapshot unchanged" in _skip(daemon.tick())
    # Other files in the directory are not the snapshot.
    (snapshot / "NOTES.md").write_text("loaded on Monday\n")
    assert "snapshot unchanged" in _skip(daemon.tick())


def test_users_csv_appearing_is_a_change(snapshot: Path) -> None:
    daemon = Daemon()
    _only_request(daemon.tick_until_settled())
    (snapshot / "users.csv").write_text(USERS)
    assert _only_request(daemon.tick_until_settled()).run_key.startswith("snapshot-2-")


def test_content_still_changing_waits_until_it_holds_still(snapshot: Path) -> None:
    daemon = Daemon()
    _only_request(daemon.tick_until_settled())
    # A copy in progress: each tick finds more of the file.
    for rows in range(1, 4):
        (snapshot / "user_stars.csv").write_text(STARS + "bob,acme/rocket\n" * rows)
        assert "a run starts at the next evaluation" in _skip(daemon.tick())
    assert _only_request(daemon.tick()).run_key.startswith("snapshot-2-")


def test_a_snapshot_rolled_back_to_earlier_content_runs_again(snapshot: Path) -> None:
    daemon = Daemon()
    first = _only_request(daemon.tick_until_settled())
    (snapshot / "repos.csv").write_text(REPOS + "acme/broken,,,\n")
    _only_request(daemon.tick_until_settled())
    (snapshot / "repos.csv").write_text(REPOS)  # the rollback
    again = _only_request(daemon.tick_until_settled())
    assert again.tags[SNAPSHOT_TAG] == first.tags[SNAPSHOT_TAG]
    assert again.run_key != first.run_key  # a run key Dagster has not seen: the run starts


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda d: shutil.rmtree(d), "does not exist (OCTOREC_SNAPSHOT_DIR); nothing to run"),
        (lambda d: (d / "user_stars.csv").unlink(), "has no user_stars.csv; nothing to run"),
        (
            lambda d: ((d / "repos.csv").unlink(), (d / "repos.csv").mkdir()),
            "repos.csv: Is a directory; nothing to run",
        ),
    ],
    ids=["missing-directory", "missing-file", "unreadable-file"],
)
def test_a_missing_or_unreadable_snapshot_skips_and_keeps_the_cursor(
    snapshot: Path, break_it, reason: str
) -> None:
    daemon = Daemon()
    _only_request(daemon.tick_until_settled())
    cursor = daemon.cursor
    break_it(snapshot)
    assert _skip(daemon.tick()).endswith(reason)
    assert daemon.cursor == cursor


def test_restored_content_after_an_outage_does_not_run_again(snapshot: Path) -> None:
    daemon = Daemon()
    _only_request(daemon.tick_until_settled())
    moved = snapshot.with_name("away")
    snapshot.rename(moved)
    assert "does not exist" in _skip(daemon.tick())
    moved.rename(snapshot)
    assert "snapshot unchanged" in _skip(daemon.tick())


def test_the_live_source_and_bad_settings_skip_with_the_reason(
    snapshot: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon()
    monkeypatch.setenv("OCTOREC_SOURCE", "github")
    assert _skip(daemon.tick()).startswith("OCTOREC_SOURCE=github: this sensor watches snapshot")
    monkeypatch.setenv("OCTOREC_SOURCE", "snapshot")
    monkeypatch.setenv("RECOMMENDATION_TOP_N", "many")
    assert "RECOMMENDATION_TOP_N: Input should be a valid integer" in _skip(daemon.tick())
    assert daemon.cursor is not None and json.loads(daemon.cursor)["runs"] == 0


def test_an_unreadable_cursor_starts_afresh(snapshot: Path) -> None:
    daemon = Daemon()
    daemon.cursor = "not json"
    assert _only_request(daemon.tick_until_settled()).run_key.startswith("snapshot-1-")


def test_the_digest_covers_the_files_the_source_reads_by_content(snapshot: Path) -> None:
    before = snapshot_digest(snapshot)
    assert before.bytes_by_file == {"repos.csv": len(REPOS), "user_stars.csv": len(STARS)}
    (snapshot / "repos.csv").write_text(REPOS.replace("Fast", "fast"))  # same size, one byte
    assert snapshot_digest(snapshot).sha256 != before.sha256


# The schedule


def _automation(monkeypatch: pytest.MonkeyPatch, **env: str) -> dg.Definitions:
    """The schedule and the sensor beside the job they target (the rest is test_definitions')."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return dg.Definitions.merge(jobs.defs(), automation.defs())


def test_the_schedule_defaults_to_nightly_utc_and_both_start_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (
        "OCTOREC_SCHEDULE_CRON",
        "OCTOREC_SCHEDULE_TIMEZONE",
        "OCTOREC_SCHEDULE_ENABLED",
        "OCTOREC_SNAPSHOT_SENSOR_ENABLED",
        "OCTOREC_SNAPSHOT_SENSOR_SECONDS",
        "OCTOREC_FEEDBACK_SENSOR_ENABLED",
        "OCTOREC_FEEDBACK_SENSOR_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    definitions = _automation(monkeypatch)
    schedule = definitions.resolve_schedule_def(PIPELINE_SCHEDULE)
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == PIPELINE_JOB
    assert schedule.default_status is dg.DefaultScheduleStatus.STOPPED
    sensor = definitions.resolve_sensor_def(SNAPSHOT_SENSOR)
    assert sensor.default_status is dg.DefaultSensorStatus.STOPPED
    assert sensor.minimum_interval_seconds == 60
    assert [target.job_name for target in sensor.targets] == [PIPELINE_JOB]
    feedback = definitions.resolve_sensor_def(FEEDBACK_SENSOR)
    assert feedback.default_status is dg.DefaultSensorStatus.STOPPED
    assert feedback.minimum_interval_seconds == 3600
    assert [target.job_name for target in feedback.targets] == [PIPELINE_JOB]


def test_the_schedule_and_sensor_take_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    definitions = _automation(
        monkeypatch,
        OCTOREC_SCHEDULE_CRON="  30 1  * * 1-5 ",
        OCTOREC_SCHEDULE_TIMEZONE="Europe/Berlin",
        OCTOREC_SCHEDULE_ENABLED="1",
        OCTOREC_SNAPSHOT_SENSOR_ENABLED="true",
        OCTOREC_SNAPSHOT_SENSOR_SECONDS="300",
        OCTOREC_FEEDBACK_SENSOR_ENABLED="yes",
        OCTOREC_FEEDBACK_SENSOR_SECONDS="900",
    )
    schedule = definitions.resolve_schedule_def(PIPELINE_SCHEDULE)
    assert schedule.cron_schedule == "30 1 * * 1-5"
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING
    assert "'30 1 * * 1-5' (Europe/Berlin)" in (schedule.description or "")
    sensor = definitions.resolve_sensor_def(SNAPSHOT_SENSOR)
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 300
    feedback = definitions.resolve_sensor_def(FEEDBACK_SENSOR)
    assert feedback.default_status is dg.DefaultSensorStatus.RUNNING
    assert feedback.minimum_interval_seconds == 900


@pytest.mark.parametrize("cron", ["0 25 * * *", "nightly", "0 3 * *", "0 3 30 2 *", "0 3 * * * *"])
def test_a_bad_cron_is_refused_at_load_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, cron: str
) -> None:
    monkeypatch.setenv("OCTOREC_SCHEDULE_CRON", cron)
    with pytest.raises(SettingsError) as raised:
        automation.defs()
    assert str(raised.value) == (
        f"invalid settings: OCTOREC_SCHEDULE_CRON: {cron!r} is not a cron schedule (five "
        "fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *' for 03:00 every "
        "day)"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "OCTOREC_SCHEDULE_TIMEZONE",
            "Mars/Olympus_Mons",
            "OCTOREC_SCHEDULE_TIMEZONE: Value error, expected an IANA timezone name",
        ),
        ("OCTOREC_SCHEDULE_CRON", "", "OCTOREC_SCHEDULE_CRON: String should have at least 1"),
        ("OCTOREC_SCHEDULE_ENABLED", "maybe", "OCTOREC_SCHEDULE_ENABLED: Input should be a valid"),
        (
            "OCTOREC_SNAPSHOT_SENSOR_SECONDS",
            "1",
            "OCTOREC_SNAPSHOT_SENSOR_SECONDS: Input should be greater than or equal to 5",
        ),
    ],
)
def test_other_bad_automation_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        automation.defs()
    assert str(raised.value).startswith("invalid settings: ")
    assert message in str(raised.value)

"""`make dev` serves the Dagster UI, as the README gives it, even from a shell that still
carries the DAGSTER_MODULE_NAME an older Makefile put in the venv's activate script (with it,
`dagster dev` never gets past "Launching Dagster services...").

The dev target runs as `make -o .venv/.octorec-installed dev ...`: the virtual environment is
taken as up to date (the test never reinstalls it), the rest of `setup` runs as it would, on a
copy of the activate script (`ACTIVATE=`) and a temporary `DAGSTER_HOME`.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octorec.testing.processes import free_port, output_tail, running_server
from tests.conftest import ROOT
from tests.defs.test_dagster_ui import (
    ASSETS_QUERY,
    JOB,
    JOB_ASSETS,
    REPOSITORIES_QUERY,
    STARTUP_TIMEOUT_SECONDS,
    _graphql,
    _python_error,
)

pytestmark = pytest.mark.slow

# The schedule and the sensor as settings make them: a cron and timezone of our choosing, the
# sensor turned on, every 5 s, over a snapshot directory that does not exist (so the daemon's
# ticks skip, saying why, and never start a run).
SCHEDULE_CRON = "15 4 * * 1-5"
SCHEDULE_TIMEZONE = "Europe/Berlin"
SENSOR_SECONDS = 5
SENSOR_TICK_TIMEOUT_SECONDS = 240.0

AUTOMATION_QUERY = """
{
  repositoriesOrError {
    __typename
    ... on PythonError { message stack }
    ... on RepositoryConnection {
      nodes {
        schedules {
          name pipelineName cronSchedule executionTimezone description
          scheduleState { status }
        }
        sensors {
          name minIntervalSeconds targets { pipelineName }
          sensorState { status ticks(limit: 5) { status skipReason runKeys error { message } } }
        }
      }
    }
  }
}
"""

STALE_BLOCK = (
    "\n# octorec: Dagster commands work from the repository root\n"
    "export DAGSTER_MODULE_NAME=octorec.definitions\n"
)


@pytest.fixture(scope="module")
def make_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`make dev DAGSTER_PORT=<free port>` in the repository root; yields its URL and paths."""
    if shutil.which("make") is None:
        pytest.fail("make is not installed (the README's commands need it)")
    directory = tmp_path_factory.mktemp("make-dev")
    activate = directory / "activate"
    text = (ROOT / ".venv" / "bin" / "activate").read_text()
    # As the older Makefile left it (the shared venv of a checkout may still carry it).
    activate.write_text(text if "export DAGSTER_MODULE_NAME=" in text else text + STALE_BLOCK)
    home = directory / "dagster_home"  # made by `make setup`
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_MODULE_NAME": "octorec.definitions",  # a shell that sourced the old activate
        "OCTOREC_DATABASE": str(directory / "octorec.duckdb"),
        "OCTOREC_SCHEDULE_CRON": SCHEDULE_CRON,
        "OCTOREC_SCHEDULE_TIMEZONE": SCHEDULE_TIMEZONE,
        "OCTOREC_SNAPSHOT_SENSOR_ENABLED": "1",
        "OCTOREC_SNAPSHOT_SENSOR_SECONDS": str(SENSOR_SECONDS),
        "OCTOREC_SNAPSHOT_DIR": str(directory / "no-snapshot-yet"),
    }
    for name in ("OCTOREC_SCHEDULE_ENABLED", "OCTOREC_FEEDBACK_SENSOR_ENABLED", "OCTOREC_SOURCE"):
        env.pop(name, None)
    port = free_port()
    command = [
        "make",
        "--no-print-directory",
        "-o",
        ".venv/.octorec-installed",
        "dev",
        f"DAGSTER_PORT={port}",
        f"ACTIVATE={activate}",
    ]
    log = directory / "make-dev.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with running_server(
            command,
            f"{url}/server_info",
            log,
            env=env,
            cwd=ROOT,
            timeout=STARTUP_TIMEOUT_SECONDS,
            stop_timeout=60,
            process_group=True,
        ) as process:
            yield {
                "url": url,
                "activate": activate,
                "home": home,
                "process": process,
                "snapshot_dir": directory / "no-snapshot-yet",
            }
    finally:
        print(f"make dev output ({log}):\n{output_tail(log)}")


def test_make_dev_serves_the_pipeline_job_and_its_assets(make_dev: dict[str, Any]) -> None:
    repositories = _graphql(make_dev["url"], REPOSITORIES_QUERY)["repositoriesOrError"]
    assert repositories["__typename"] == "RepositoryConnection", _python_error(repositories)
    [repository] = repositories["nodes"]
    assert repository["location"]["name"] == "octorec"  # [tool.dagster] code_location_name
    assert JOB in {job["name"] for job in repository["jobs"]}
    nodes = _graphql(make_dev["url"], ASSETS_QUERY)["assetNodes"]
    in_job = {"/".join(n["assetKey"]["path"]) for n in nodes if JOB in n["jobNames"]}
    assert in_job == set(JOB_ASSETS)


def test_make_setup_made_the_instance_and_dropped_the_stale_export(
    make_dev: dict[str, Any],
) -> None:
    assert (make_dev["home"] / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    activate: Path = make_dev["activate"]
    text = activate.read_text()
    assert "DAGSTER_MODULE_NAME" not in text
    assert "VIRTUAL_ENV" in text  # the rest of the script is untouched
    # A shell that sources it now has no DAGSTER_MODULE_NAME for `dagster dev` to trip on.
    sourced = subprocess.run(
        ["bash", "-c", f'source "{activate}" && echo "${{DAGSTER_MODULE_NAME-unset}}"'],
        env={k: v for k, v in os.environ.items() if k != "DAGSTER_MODULE_NAME"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout.strip() == "unset"


def _automation(url: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The repository's one schedule, and its sensors by name, as the UI reads them."""
    repositories = _graphql(url, AUTOMATION_QUERY)["repositoriesOrError"]
    assert repositories["__typename"] == "RepositoryConnection", _python_error(repositories)
    [repository] = repositories["nodes"]
    [schedule] = repository["schedules"]
    return schedule, {sensor["name"]: sensor for sensor in repository["sensors"]}


def test_dagster_dev_shows_the_schedule_and_its_daemon_runs_the_sensor(
    make_dev: dict[str, Any],
) -> None:
    schedule, sensors = _automation(make_dev["url"])
    assert schedule["name"] == "training_data_pipeline_schedule"
    assert schedule["pipelineName"] == JOB
    assert schedule["cronSchedule"] == SCHEDULE_CRON
    assert schedule["executionTimezone"] == SCHEDULE_TIMEZONE
    assert schedule["scheduleState"]["status"] == "STOPPED"  # OCTOREC_SCHEDULE_ENABLED unset
    assert f"'{SCHEDULE_CRON}' ({SCHEDULE_TIMEZONE})" in schedule["description"]
    assert set(sensors) == {"snapshot_sensor", "feedback_sensor"}
    sensor = sensors["snapshot_sensor"]
    assert sensor["targets"] == [{"pipelineName": JOB}]
    assert sensor["minIntervalSeconds"] == SENSOR_SECONDS
    assert sensor["sensorState"]["status"] == "RUNNING"  # OCTOREC_SNAPSHOT_SENSOR_ENABLED=1
    feedback = sensors["feedback_sensor"]
    assert feedback["targets"] == [{"pipelineName": JOB}]
    assert feedback["minIntervalSeconds"] == 3600
    assert feedback["sensorState"]["status"] == "STOPPED"  # OCTOREC_FEEDBACK_SENSOR_ENABLED unset

    # `dagster dev`'s daemon evaluates it: the snapshot directory is missing, so each tick
    # skips with the reason, and none fails or starts a run.
    expected = f"snapshot directory {make_dev['snapshot_dir']} does not exist"
    deadline = time.monotonic() + SENSOR_TICK_TIMEOUT_SECONDS
    ticks: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        ticks = _automation(make_dev["url"])[1]["snapshot_sensor"]["sensorState"]["ticks"]
        if any(tick["status"] != "STARTED" for tick in ticks):
            break
        time.sleep(2)
    done = [tick for tick in ticks if tick["status"] != "STARTED"]
    assert done, f"no sensor tick within {SENSOR_TICK_TIMEOUT_SECONDS:g} s: {ticks}"
    for tick in done:
        assert tick["status"] == "SKIPPED", tick
        assert tick["skipReason"].startswith(expected), tick
        assert tick["runKeys"] == [], tick

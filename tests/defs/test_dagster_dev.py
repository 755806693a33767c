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
    }
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
            yield {"url": url, "activate": activate, "home": home, "process": process}
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

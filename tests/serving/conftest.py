"""A live `octorec serve` over the session's pipeline result, for the API and the web page."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from octorec.testing.processes import free_port, running_server


@pytest.fixture(scope="session")
def served_database(pipeline_run) -> Path:
    """The database `octorec run` filled (the run must have succeeded)."""
    database, _, code, _, err = pipeline_run
    assert code == 0, f"octorec run failed:\n{err[-3000:]}"
    return database


@pytest.fixture(scope="session")
def live_server(served_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`octorec serve` in its own process on a free port: its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "OCTOREC_DATABASE": str(served_database), "HF_HUB_OFFLINE": "1"}
    octorec = Path(sys.executable).parent / "octorec"
    url = f"http://127.0.0.1:{port}"
    command = [str(octorec), "serve", "--port", str(port)]
    with running_server(command, f"{url}/health", log, env=env):
        yield url

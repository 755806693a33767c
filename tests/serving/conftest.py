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


API_TOKEN = "s3cret-feedback-token-0123456789"
"""The bearer token of `token_server` (the tests send it; the server's log must never show it)."""
EXTRA_USERS = 30
"""Copies of a real user's results under `page-user-NN` logins: more users than the page lists
at once, so it has to page."""
SERVE = (
    "import logging, sys, uvicorn\n"
    "from octorec.serving.api import create_app\n"
    "from octorec.settings import load_settings\n"
    "logging.basicConfig(level=logging.DEBUG)\n"
    "uvicorn.run(create_app(load_settings()), port=int(sys.argv[1]), log_level='debug')\n"
)


@pytest.fixture(scope="session")
def token_server(
    served_database: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """The API over a writable copy of the pipeline's result with `EXTRA_USERS` more users,
    `API_TOKEN` set and every log line (access log, debug) kept: its base URL and log file."""
    import shutil

    import duckdb

    directory = tmp_path_factory.mktemp("token-serve")
    database = directory / "octorec.duckdb"
    shutil.copy(served_database, database)
    with duckdb.connect(str(database)) as connection:
        for n in range(1, EXTRA_USERS + 1):
            connection.execute(
                "INSERT INTO user_project_similarities SELECT * REPLACE (? AS user_login) "
                "FROM user_project_similarities WHERE user_login = 'dkadev'",
                [f"page-user-{n:02d}"],
            )
    port = free_port()
    log = directory / "serve.log"
    env = {
        **os.environ,
        "OCTOREC_DATABASE": str(database),
        "API_TOKEN": API_TOKEN,
        "HF_HUB_OFFLINE": "1",
    }
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-c", SERVE, str(port)]
    with running_server(command, f"{url}/health", log, env=env):
        yield url, log

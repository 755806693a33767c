"""Shared fixtures: the sample data, slices of it, and temporary databases."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = Path(
    os.environ.get("OCTOREC_TEST_SAMPLE_DIR", ROOT.parent / "shared" / "data" / "github-sample")
)

# A slice small enough to embed in seconds: these users, everything they starred, and the most
# starred repositories of the sample as further candidates.
SLICE_USERS = ("BlueSkyClouds", "Chocolate1999", "HearLing", "dkadev", "guohekui")
SLICE_EXTRA_REPOSITORIES = 150
COLD_START_LOGIN = "cold-start-dev"
NO_SIGNAL_LOGIN = "quiet-newcomer"
OWNED_REPOSITORY = "dkadev/agent-dashboard"


@pytest.fixture(autouse=True)
def _unsharded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the default, unpartitioned definitions unless they set OCTOREC_SHARDS."""
    monkeypatch.delenv("OCTOREC_SHARDS", raising=False)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The sample snapshot shipped beside the repository (../shared/data/github-sample)."""
    if not (SAMPLE_DIR / "repos.csv").exists():
        pytest.fail(
            f"sample data not found at {SAMPLE_DIR}; set OCTOREC_TEST_SAMPLE_DIR to a directory "
            "in the github-sample format"
        )
    return SAMPLE_DIR


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="session")
def sample_slice(tmp_path_factory: pytest.TempPathFactory, sample_dir: Path) -> Path:
    """A snapshot directory with a few real users, their stars, popular candidates, a repository
    one of them owns, a cold-start user who only declared interests and one who gave nothing."""
    directory = tmp_path_factory.mktemp("sample-slice")
    star_header, stars = _read(sample_dir / "user_stars.csv")
    stars = [row for row in stars if row["user"] in SLICE_USERS]
    starred = {row["repo_full_name"] for row in stars}

    repo_header, repos = _read(sample_dir / "repos.csv")
    by_stars = sorted(repos, key=lambda r: -float(r["stars"] or 0))
    popular = {r["full_name"] for r in by_stars[:SLICE_EXTRA_REPOSITORIES]}
    kept = [r for r in repos if r["full_name"] in starred | popular]
    owned = dict.fromkeys(repo_header, "")
    owned.update(
        full_name=OWNED_REPOSITORY,
        description="Dashboard for AI agents and LLM workflows, self-hosted with Docker",
        language="TypeScript",
        topics="ai|agents|llm|docker|dashboard",
        stars="40",
    )
    _write(directory / "repos.csv", repo_header, [*kept, owned])
    _write(directory / "user_stars.csv", star_header, stars)

    user_header, users = _read(sample_dir / "users.csv")
    header = [*user_header, "bio", "categories", "tech_stack"]
    users = [{**u, "bio": "", "categories": "", "tech_stack": ""} for u in users]
    users = [u for u in users if u["login"] in SLICE_USERS]
    users.append(
        dict.fromkeys(header, "")
        | {
            "login": COLD_START_LOGIN,
            "bio": "I build machine learning pipelines and LLM applications in Python",
            "categories": "ai-ml|data-engineering",
            "tech_stack": "python|pytorch",
        }
    )
    users.append(dict.fromkeys(header, "") | {"login": NO_SIGNAL_LOGIN})
    _write(directory / "users.csv", header, users)
    return directory


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[str, int]]:
    """A real PostgreSQL server for the session: (url with password, port)."""
    from octorec.testing.postgres import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: tuple[str, int]) -> Iterator[str]:
    """The test server's database, emptied of octorec's tables after each test."""
    url = postgres[0]
    yield url
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS raw CASCADE")
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A path for a fresh DuckDB file."""
    return tmp_path / "octorec.duckdb"


@pytest.fixture
def pipeline_env(
    monkeypatch: pytest.MonkeyPatch, database: Path, sample_slice: Path
) -> Iterator[Path]:
    """Environment for a run on the sample slice into a temporary database."""
    monkeypatch.setenv("OCTOREC_SOURCE", "snapshot")
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    yield database


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory, sample_slice: Path):
    """`octorec run` once on the sample slice into a fresh DuckDB file, recorded in a fresh
    Dagster instance: (database, DAGSTER_HOME, exit code, standard output, standard error).

    Read-only users of a real pipeline result (the command line, the API, the web page) share
    it; tests that write use their own database."""
    import contextlib
    import io

    from octorec.cli import main

    directory = tmp_path_factory.mktemp("octorec-run")
    database = directory / "octorec.duckdb"
    home = directory / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOREC_SOURCE", "snapshot")
        env.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
        env.setenv("OCTOREC_DATABASE", str(database))
        env.setenv("DAGSTER_HOME", str(home))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run"])
    return database, home, code, out.getvalue(), err.getvalue()

"""Whole scrapes against the stand-in: faults, renames, deletions, resumption, refresh."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octorec.ingestion import ingest
from octorec.settings import load_settings
from octorec.sources import SourceUnavailableError, open_source
from octorec.testing.fake_github import FakeGitHub
from octorec.warehouse import open_warehouse
from tests.github.conftest import github_env, stored_rows, use_env


def _scrape(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    use_env(monkeypatch, env)
    settings = load_settings()
    with open_warehouse(settings.database) as warehouse:
        source = open_source(settings, warehouse)
        run = ingest(source, warehouse)
    return run, source.http.stats


@pytest.fixture
def clean_rows(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list]:
    database = tmp_path / "clean.duckdb"
    run, _ = _scrape(monkeypatch, github_env(fake_github, database))
    assert run.repositories > 300 and run.users == 3 and run.interactions > 50
    return stored_rows(database)


@pytest.mark.parametrize(
    ("kind", "where", "after"),
    [
        ("primary", "/search/", 2),
        ("secondary", "/users/.*/starred", 1),
        ("429", "/search/", 4),
        ("502", "/graphql", 3),
        ("503", "/users/", 2),
        ("timeout", "/graphql", 5),
        ("reset", "/users/.*/repos", 0),
        ("truncated", "/graphql", 8),
    ],
)
def test_a_fault_mid_run_ends_with_the_data_of_a_clean_run(
    fake_github: FakeGitHub,
    clean_rows: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    where: str,
    after: int,
) -> None:
    fake_github.inject(kind, where, after)
    database = tmp_path / "faulty.duckdb"
    _, stats = _scrape(monkeypatch, github_env(fake_github, database))
    assert stored_rows(database) == clean_rows
    assert stats.retries + stats.rate_limit_waits >= 1


def test_renamed_and_deleted_repositories_mid_run(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_github.data
    data.renamed["old-owner/old-rust"] = "rust-lang/rust"
    data.gone["torvalds/linux"] = 404
    data.gone["blocked/thing"] = 451
    database = tmp_path / "moves.duckdb"
    env = github_env(
        fake_github,
        database,
        GITHUB_REPOSITORIES="old-owner/old-rust,torvalds/linux,blocked/thing",
        GITHUB_SEARCH_QUERIES="",
        GITHUB_USERS="",
    )
    try:
        _scrape(monkeypatch, env)
    finally:
        data.renamed.clear()
        data.gone.clear()
    with open_warehouse(database, read_only=True) as warehouse:
        rows = {
            r["full_name"]: r
            for r in warehouse.query(
                "SELECT full_name, is_available, description FROM raw.repositories"
            ).to_pylist()
        }
    assert set(rows) == {"rust-lang/rust", "torvalds/linux", "blocked/thing"}
    assert rows["rust-lang/rust"]["is_available"] and rows["rust-lang/rust"]["description"]
    assert not rows["torvalds/linux"]["is_available"]
    assert not rows["blocked/thing"]["is_available"]


def test_a_deleted_repository_keeps_what_was_known(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "known.duckdb"
    env = github_env(
        fake_github,
        database,
        GITHUB_REPOSITORIES="rust-lang/rust",
        GITHUB_SEARCH_QUERIES="",
        GITHUB_USERS="",
    )
    _scrape(monkeypatch, env)
    fake_github.data.gone["rust-lang/rust"] = 404
    try:
        _scrape(monkeypatch, env)
    finally:
        fake_github.data.gone.clear()
    with open_warehouse(database, read_only=True) as warehouse:
        [row] = warehouse.query(
            "SELECT is_available, description FROM raw.repositories"
        ).to_pylist()
    assert row["is_available"] is False and row["description"]


def test_a_refresh_of_unchanged_data_costs_no_rate_limit_and_rewrites_nothing(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "refresh.duckdb"
    env = github_env(fake_github, database)
    _scrape(monkeypatch, env)
    graphql_before = fake_github.requests["graphql"]
    with open_warehouse(database, read_only=True) as warehouse:
        loaded_at = warehouse.query("SELECT max(ingested_at) AS t FROM raw.repositories")
    run, stats = _scrape(monkeypatch, env)
    assert run.batches == 0
    assert fake_github.requests["graphql"] == graphql_before
    assert stats.not_modified == stats.requests  # every request answered 304
    with open_warehouse(database, read_only=True) as warehouse:
        assert warehouse.query("SELECT max(ingested_at) AS t FROM raw.repositories") == loaded_at


def test_changed_repositories_are_fetched_again(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "changed.duckdb"
    env = github_env(fake_github, database)
    _scrape(monkeypatch, env)
    repo = fake_github.data.repositories["rust-lang/rust"]  # found by the Rust query
    original = dict(repo)
    repo.update(pushed_at="2026-11-01T00:00:00Z", description="A changed description")
    try:
        run, _ = _scrape(monkeypatch, env)
    finally:
        repo.clear()
        repo.update(original)
    assert run.repositories == 1
    with open_warehouse(database, read_only=True) as warehouse:
        [row] = warehouse.query(
            "SELECT description FROM raw.repositories WHERE full_name = 'rust-lang/rust'"
        ).to_pylist()
    assert row["description"] == "A changed description"


def test_nothing_to_collect_is_a_clear_error(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = github_env(fake_github, tmp_path / "x.duckdb", GITHUB_SEARCH_QUERIES="", GITHUB_USERS="")
    use_env(monkeypatch, env)
    with pytest.raises(SourceUnavailableError, match="needs something to collect"):
        open_source(load_settings()).check_available()


def test_an_unreachable_api_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOREC_SOURCE", "github")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("GITHUB_MAX_RETRIES", "1")
    monkeypatch.setenv("GITHUB_BACKOFF_SECONDS", "0.01")
    monkeypatch.setenv("GITHUB_USERS", "someone")
    with pytest.raises(SourceUnavailableError, match=r"cannot be reached: GET /rate_limit"):
        open_source(load_settings()).check_available()


@pytest.mark.slow
def test_a_killed_scrape_resumes_to_the_rows_of_a_clean_run(
    fake_github: FakeGitHub, clean_rows: dict, tmp_path: Path
) -> None:
    database = tmp_path / "killed.duckdb"
    fake_github.latency_seconds = 0.05
    env = {**os.environ, **github_env(fake_github, database)}
    command = [sys.executable, "-m", "octorec.cli", "scrape"]
    clean_run_graphql = fake_github.requests["graphql"]  # what the clean run (fixture) took
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while fake_github.requests["graphql"] < clean_run_graphql + 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    graphql_before_resume = fake_github.requests["graphql"]

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert stored_rows(database) == clean_rows
    # Only the missing detail batches were fetched again, not the ones committed before the kill.
    resumed_graphql = fake_github.requests["graphql"] - graphql_before_resume
    assert resumed_graphql <= clean_run_graphql - 5


def test_a_user_fetched_but_not_stored_is_stored_by_the_next_run(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "lost.duckdb"
    env = github_env(fake_github, database, GITHUB_SEARCH_QUERIES="", GITHUB_USERS="HearLing")
    use_env(monkeypatch, env)
    settings = load_settings()
    with open_warehouse(settings.database) as warehouse:
        source = open_source(settings, warehouse)
        next(iter(source.batches()))  # fetched (and its ETags cached), then the process "dies"
        source.close()
    _scrape(monkeypatch, env)
    with open_warehouse(database, read_only=True) as warehouse:
        assert warehouse.count("raw.users") == 1
        assert warehouse.count("raw.interactions") == 7


def test_a_list_that_grows_past_a_full_page_is_read_to_its_end(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_github.data
    names = sorted(data.repositories)[:101]
    data.stars["grower"] = [
        (data.repositories[n]["full_name"], "2026-01-01T00:00:00Z") for n in names[:100]
    ]
    data.users["grower"] = {"login": "grower", "id": 7, "type": "User", "name": None, "bio": None}
    database = tmp_path / "grow.duckdb"
    env = github_env(fake_github, database, GITHUB_SEARCH_QUERIES="", GITHUB_USERS="grower")
    try:
        _scrape(monkeypatch, env)
        data.stars["grower"].append(
            (data.repositories[names[100]]["full_name"], "2026-02-01T00:00:00Z")
        )
        _scrape(monkeypatch, env)
    finally:
        del data.stars["grower"], data.users["grower"]
    with open_warehouse(database, read_only=True) as warehouse:
        assert warehouse.count("raw.interactions") == 101

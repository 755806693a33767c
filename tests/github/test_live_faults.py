"""What the real GitHub does that a polite client must survive (issue 17), against the stand-in:
runs that die between a cached page and its batch, renames between runs, nullable and mistyped
GraphQL fields, GraphQL's transient timeout, no token, details that change without a push,
lists that change while paged, and the smaller promises of the client and the CLI."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from octorec.cli import main
from octorec.github.http import GitHubFetchError, GitHubHttp, RetryPolicy
from octorec.ingestion import ingest
from octorec.settings import load_settings
from octorec.sources import open_source
from octorec.testing.fake_github import FakeGitHub, FakeGitHubData
from octorec.warehouse import open_warehouse
from tests.github.conftest import github_env, stored_rows, use_env


def _scrape(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]):
    use_env(monkeypatch, env)
    settings = load_settings()
    with open_warehouse(settings.warehouse_location) as warehouse:
        source = open_source(settings, warehouse)
        run = ingest(source, warehouse)
    return run, source.http.stats


def _only(api: FakeGitHub, database: Path, **extra: str) -> dict[str, str]:
    """A scrape of just what `extra` names (no search queries, no users unless given)."""
    return github_env(api, database, **{"GITHUB_SEARCH_QUERIES": "", "GITHUB_USERS": "", **extra})


def _query(location: str | Path, sql: str) -> list[dict[str, Any]]:
    with open_warehouse(location) as warehouse:
        return warehouse.query(sql).to_pylist()


def _unstarred_by(data: FakeGitHubData, login: str) -> str:
    starred = {name.lower() for name, _ in data.stars[login.lower()]}
    return next(r["full_name"] for k, r in sorted(data.repositories.items()) if k not in starred)


# -- 1. a cached page and the batch derived from it commit together ---------------------------
@pytest.mark.parametrize(
    "death", ["killed before the batch is stored", "gave up on a later page", "kill -9"]
)
def test_a_new_star_fetched_by_a_run_that_died_is_stored_by_the_next(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, death: str
) -> None:
    data = fake_github.data
    database = tmp_path / "star.duckdb"
    env = _only(fake_github, database, GITHUB_USERS="HearLing", GITHUB_MAX_RETRIES="1")
    _scrape(monkeypatch, env)
    new_star = _unstarred_by(data, "HearLing")
    stars_before = list(data.stars["hearling"])
    data.stars["hearling"].insert(0, (new_star, "2026-03-01T00:00:00Z"))
    try:
        if death == "killed before the batch is stored":
            settings = load_settings()
            with open_warehouse(settings.database) as warehouse:
                source = open_source(settings, warehouse)
                next(iter(source.batches()))  # the starred page is fetched, then the run dies
                source.close()
        elif death == "kill -9":
            _killed_while_the_owned_repositories_are_asked(fake_github, env)
        else:
            for _ in range(2):  # every attempt at the owned repositories fails: the run gives up
                fake_github.inject("503", "/users/HearLing/repos")
            with pytest.raises(GitHubFetchError, match="GET /users/HearLing/repos"):
                _scrape(monkeypatch, env)
        _scrape(monkeypatch, env)
    finally:
        data.stars["hearling"] = stars_before
    stars = _query(database, "SELECT repo_full_name FROM raw.interactions WHERE kind = 'star'")
    assert new_star in {row["repo_full_name"] for row in stars}
    assert len(stars) == len(stars_before) + 1


def _killed_while_the_owned_repositories_are_asked(api: FakeGitHub, env: dict[str, str]) -> None:
    """`octorec scrape` killed with SIGKILL after the starred page came, before the batch."""
    arrived, release = threading.Event(), threading.Event()
    api.schedule("/users/HearLing/repos", lambda data: (arrived.set(), release.wait(20)))
    command = [sys.executable, "-m", "octorec.cli", "scrape"]
    process = subprocess.Popen(
        command,
        env={**os.environ, **env, "GITHUB_TIMEOUT": "30"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert arrived.wait(60), "the scrape never asked for the owned repositories"
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        release.set()


# -- 2. repositories are keyed on GitHub's id: a rename moves everything to the new name ------
@pytest.fixture(params=["duckdb", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "duckdb":
        return tmp_path / "rename.duckdb"
    return request.getfixturevalue("postgres_url")


def test_a_repository_renamed_between_runs_is_stored_once_under_its_new_name(
    fake_github: FakeGitHub, location: str | Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_github.data
    old = data.stars["guohekui"][0][0]
    new = "renamed-owner/renamed-" + old.split("/")[1]
    github_id = data.repositories[old.lower()]["id"]
    env = _only(fake_github, Path("unused.duckdb"), GITHUB_USERS="HearLing,guohekui")
    if isinstance(location, str):
        env["DATABASE_URL"] = location
    else:
        env["OCTOREC_DATABASE"] = str(location)
    _scrape(monkeypatch, env)
    data.rename(old, new)
    try:
        # guohekui is not read again: only the old name, which now redirects, is asked for.
        _scrape(monkeypatch, {**env, "GITHUB_USERS": "HearLing", "GITHUB_REPOSITORIES": old})
    finally:
        data.rename(new, old)
        data.renamed.clear()
    rows = _query(
        location,
        "SELECT full_name, github_id, is_available, description FROM raw.repositories "
        f"WHERE github_id = {github_id} OR lower(full_name) IN ('{old.lower()}', '{new.lower()}')",
    )
    assert [(r["full_name"], r["github_id"], r["is_available"]) for r in rows] == [
        (new, github_id, True)
    ]
    starred = _query(
        location,
        "SELECT user_login, repo_full_name FROM raw.interactions "
        f"WHERE lower(repo_full_name) IN ('{old.lower()}', '{new.lower()}')",
    )
    assert {(r["user_login"], r["repo_full_name"]) for r in starred} >= {("guohekui", new)}
    assert all(r["repo_full_name"] == new for r in starred)


# -- 3. fields read as GitHub's schema types them ----------------------------------------------
def test_nullable_graphql_fields_are_stored_and_mistyped_ones_rejected(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = fake_github.data.graphql_overrides
    overrides["rust-lang/rust"] = {
        "languages": None,
        "primaryLanguage": None,
        "licenseInfo": None,
        "readme": None,
        "pushedAt": None,
        "repositoryTopics": {"nodes": None},
        "description": None,
    }
    overrides["torvalds/linux"] = {"stargazerCount": "many"}
    database = tmp_path / "nullable.duckdb"
    env = _only(
        fake_github, database, GITHUB_REPOSITORIES="rust-lang/rust,torvalds/linux,python/cpython"
    )
    try:
        for _ in range(2):  # a rerun neither crashes nor changes the outcome
            run, _ = _scrape(monkeypatch, env)
    finally:
        overrides.clear()
    rows = {
        r["full_name"]: r
        for r in _query(database, "SELECT full_name, languages, topics FROM raw.repositories")
    }
    assert set(rows) == {"rust-lang/rust", "python/cpython"}
    assert rows["rust-lang/rust"]["topics"] == [] and rows["python/cpython"]["languages"]
    [rejected] = run.rejected
    assert rejected.field == "stargazerCount"
    assert "torvalds/linux" in rejected.describe() and "'many'" in rejected.reason


# -- 4. GitHub's transient GraphQL failure -----------------------------------------------------
@pytest.fixture
def clean_rows(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list]:
    database = tmp_path / "clean.duckdb"
    _scrape(monkeypatch, github_env(fake_github, database))
    return stored_rows(database)


@pytest.mark.parametrize("kind", ["graphql-timeout", "node-unavailable"])
def test_a_transient_graphql_error_is_retried_and_deletes_nothing(
    fake_github: FakeGitHub,
    clean_rows: dict,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    fake_github.inject(kind, "/graphql", after=2)
    database = tmp_path / "transient.duckdb"
    _, stats = _scrape(monkeypatch, github_env(fake_github, database))
    assert stored_rows(database) == clean_rows
    assert stats.retries >= 1


def test_a_batch_too_heavy_for_graphql_is_halved(
    fake_github: FakeGitHub, clean_rows: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.graphql_max_nodes = 10  # 25 repositories a request always "time out"
    fake_github.graphql_batch_sizes.clear()
    database = tmp_path / "halved.duckdb"
    _scrape(monkeypatch, github_env(fake_github, database))
    assert stored_rows(database) == clean_rows
    sizes = fake_github.graphql_batch_sizes
    assert sizes[0] == 25 and 12 in sizes and max(sizes[sizes.index(6) :]) <= 6


# -- 5. no token: details over REST --------------------------------------------------------------
def test_without_a_token_details_come_from_rest(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = "rust-lang/rust,torvalds/linux,python/cpython"
    columns = (
        "full_name, description, language, topics, stars, forks, open_issues, created_at, "
        "pushed_at, updated_at, is_fork, is_archived, readme_excerpt, languages, watchers, "
        "license, homepage, github_id, is_available"
    )
    with_token, anonymous = tmp_path / "token.duckdb", tmp_path / "anonymous.duckdb"
    _scrape(monkeypatch, _only(fake_github, with_token, GITHUB_REPOSITORIES=names))
    graphql = fake_github.requests["graphql"]
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    env = _only(fake_github, anonymous, GITHUB_REPOSITORIES=names)
    del env["GITHUB_TOKEN"]
    _scrape(monkeypatch, env)
    assert fake_github.requests["graphql"] == graphql  # GraphQL refuses anonymous requests
    query = f"SELECT {columns} FROM raw.repositories ORDER BY full_name"
    expected = _query(with_token, query)
    assert len(expected) == 3 and all(row["readme_excerpt"] for row in expected)
    assert _query(anonymous, query) == expected


# -- 6. details refreshed on updated_at, and when older than GITHUB_MAX_DETAIL_AGE_DAYS --------
def test_details_changed_without_a_push_are_fetched_again(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "updated.duckdb"
    env = _only(fake_github, database, GITHUB_REPOSITORIES="rust-lang/rust,torvalds/linux")
    _scrape(monkeypatch, env)
    rust, linux = (fake_github.data.repositories[n] for n in ("rust-lang/rust", "torvalds/linux"))
    originals = dict(rust), dict(linux)
    rust.update(updated_at="2026-11-02T00:00:00Z", description="New words, same code")
    linux.update(stargazers_count=linux["stargazers_count"] + 5)  # updated_at stays: only age
    try:
        _scrape(monkeypatch, env)
        after_update = _query(
            database, "SELECT full_name, description, stars FROM raw.repositories"
        )
        _scrape(monkeypatch, {**env, "GITHUB_MAX_DETAIL_AGE_DAYS": "0"})
        after_age = _query(database, "SELECT full_name, description, stars FROM raw.repositories")
    finally:
        rust.clear(), linux.clear()
        rust.update(originals[0]), linux.update(originals[1])
    by_name = {r["full_name"]: r for r in after_update}
    assert by_name["rust-lang/rust"]["description"] == "New words, same code"
    assert by_name["torvalds/linux"]["stars"] == originals[1]["stargazers_count"]
    aged = {r["full_name"]: r for r in after_age}
    assert aged["torvalds/linux"]["stars"] == originals[1]["stargazers_count"] + 5


# -- 7. a list that changes while it is paged is paged again -----------------------------------
def test_a_star_removed_while_the_list_is_paged_loses_no_other_star(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_github.data
    names = [data.repositories[n]["full_name"] for n in sorted(data.repositories)[:150]]
    data.users["pager"] = {"login": "pager", "id": 8, "type": "User", "name": None, "bio": None}
    data.stars["pager"] = [(name, "2026-01-01T00:00:00Z") for name in names]
    # The first star goes away after page 1 was read and before page 2 is.
    fake_github.schedule("/users/pager/starred", lambda d: d.stars["pager"].pop(0), after=1)
    database = tmp_path / "paged.duckdb"
    try:
        _scrape(monkeypatch, _only(fake_github, database, GITHUB_USERS="pager"))
    finally:
        del data.stars["pager"], data.users["pager"]
    stored = _query(database, "SELECT repo_full_name FROM raw.interactions WHERE kind = 'star'")
    assert sorted(r["repo_full_name"] for r in stored) == sorted(names[1:])


# -- 8. the smaller promises ---------------------------------------------------------------------
FAST = RetryPolicy(max_retries=2, backoff_base=0.02, backoff_cap=0.1, max_wait=0.0)


def test_a_rate_limit_wait_too_long_names_the_request(fake_github: FakeGitHub) -> None:
    fake_github.inject("primary", "/users/HearLing$")
    with (
        GitHubHttp(fake_github.url, "ghp_secret_value", policy=FAST) as http,
        pytest.raises(GitHubFetchError) as raised,
    ):
        http.get("/users/HearLing")
    assert str(raised.value).startswith("GET /users/HearLing: rate limit resets in ")
    assert "GITHUB_MAX_WAIT" in str(raised.value) and "ghp_secret_value" not in str(raised.value)


def test_the_timeout_bounds_the_whole_request(fake_github: FakeGitHub) -> None:
    # Ten pieces 0.2 s apart: each read is quick, the whole answer takes 2 s.
    fake_github.inject("slow-body", "/users/guohekui/starred")
    with GitHubHttp(fake_github.url, policy=FAST, timeout=0.5) as http:
        started = time.monotonic()
        answer = http.get("/users/guohekui/starred")
        elapsed = time.monotonic() - started
    assert answer.body and http.stats.retries == 1
    assert elapsed < 1.5


def test_the_scrape_command_prints_its_final_error_on_its_own_line(
    fake_github: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = _only(fake_github, tmp_path / "cli.duckdb", GITHUB_USERS="HearLing,guohekui")
    use_env(monkeypatch, {**env, "GITHUB_MAX_RETRIES": "0"})
    fake_github.inject("503", "/users/guohekui$")
    assert main(["scrape"]) == 1
    lines = capsys.readouterr().err.split("\n")
    last = [line for line in lines if line.strip()][-1]
    assert last == (
        "octorec: GET /users/guohekui not fetched after 1 attempts (HTTP 503) "
        "(batches committed before this are kept)"
    )


def test_a_warehouse_from_before_ids_learns_them_once_and_its_renames(
    fake_github: FakeGitHub, location: str | Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_github.data
    old = data.stars["guohekui"][0][0]
    new = "moved-owner/" + old.split("/")[1]
    env = _only(fake_github, Path("unused.duckdb"), GITHUB_USERS="HearLing,guohekui")
    if isinstance(location, str):
        env["DATABASE_URL"] = location
    else:
        env["OCTOREC_DATABASE"] = str(location)
    _scrape(monkeypatch, env)
    with open_warehouse(location) as warehouse:  # as an older octorec left it
        warehouse.execute("ALTER TABLE raw.repositories DROP COLUMN github_id")
        warehouse.execute("UPDATE raw.repositories SET payload = NULL")
    stored = _query(location, "SELECT count(*) AS n FROM raw.repositories")[0]["n"]
    data.rename(old, new)
    try:
        # Nobody asks for the old name: only the stored copy without an id leads to it.
        _scrape(monkeypatch, {**env, "GITHUB_USERS": "HearLing"})
        graphql = fake_github.requests["graphql"]
        _scrape(monkeypatch, {**env, "GITHUB_USERS": "HearLing"})
        assert fake_github.requests["graphql"] == graphql  # the ids are learned once
    finally:
        data.rename(new, old)
        data.renamed.clear()
    rows = _query(location, "SELECT full_name, github_id FROM raw.repositories")
    assert len(rows) == stored and all(row["github_id"] is not None for row in rows)
    names = {row["full_name"] for row in rows}
    assert new in names and old not in names
    starred = _query(
        location, "SELECT repo_full_name FROM raw.interactions WHERE user_login = 'guohekui'"
    )
    assert new in {r["repo_full_name"] for r in starred}
    assert old not in {r["repo_full_name"] for r in starred}


def test_a_star_of_the_wrong_shape_is_rejected_and_the_others_kept(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = fake_github.data
    stars_before = list(data.stars["hearling"])
    data.stars["hearling"][0] = (stars_before[0][0], 1767225600)  # a number, not a timestamp
    database = tmp_path / "shape.duckdb"
    try:
        run, _ = _scrape(monkeypatch, _only(fake_github, database, GITHUB_USERS="HearLing"))
    finally:
        data.stars["hearling"] = stars_before
    stars = _query(database, "SELECT repo_full_name FROM raw.interactions WHERE kind = 'star'")
    assert len(stars) == len(stars_before) - 1
    [rejected] = run.rejected
    assert rejected.describe() == (
        "starred:HearLing:1 field 'starred_at': expected an ISO 8601 timestamp, found 1767225600"
    )


@pytest.mark.slow
def test_the_old_name_of_a_renamed_repository_never_reaches_dbt_projects(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from octorec.dbt_project import run_dbt

    data = fake_github.data
    old = data.stars["guohekui"][0][0]
    new = "dbt-owner/" + old.split("/")[1]
    database = tmp_path / "dbt.duckdb"
    env = _only(fake_github, database, GITHUB_USERS="HearLing,guohekui")
    _scrape(monkeypatch, env)
    data.rename(old, new)
    try:
        _scrape(monkeypatch, env)
    finally:
        data.rename(new, old)
        data.renamed.clear()
    # dbt as the pipeline runs it, pointed at this file whatever an earlier test left exported.
    run_dbt(database, ["seed"], state_dir=tmp_path / "dbt-state")
    run_dbt(database, ["build", "--select", "dbt_projects"], state_dir=tmp_path / "dbt-state")
    names = {r["full_name"] for r in _query(database, "SELECT full_name FROM dbt_projects")}
    assert new in names and old not in names

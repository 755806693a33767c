"""A GitHub stand-in fed from the sample data, and helpers to compare what scrapes stored."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octorec.testing.fake_github import FakeGitHub, FakeGitHubData
from octorec.warehouse import open_warehouse

USERS = ["HearLing", "guohekui", "Chocolate1999"]
QUERIES = "language:python stars:>20000;language:rust stars:>3000"


@pytest.fixture(scope="session")
def github_data(sample_dir: Path) -> FakeGitHubData:
    return FakeGitHubData.from_snapshot(sample_dir, users=USERS)


@pytest.fixture
def fake_github(github_data: FakeGitHubData) -> Iterator[FakeGitHub]:
    api = FakeGitHub(github_data, search_limit=1000, window_seconds=1.0, hang_seconds=1.0)
    with api:
        yield api


def github_env(api: FakeGitHub, database: Path, **extra: str) -> dict[str, str]:
    """Environment for a scrape of a few queries and users from the stand-in."""
    return {
        "OCTOREC_SOURCE": "github",
        "GITHUB_API_URL": api.url,
        "OCTOREC_DATABASE": str(database),
        "GITHUB_SEARCH_QUERIES": QUERIES,
        "GITHUB_USERS": ",".join(USERS),
        "GITHUB_MAX_REPOSITORIES": "400",
        "GITHUB_BATCH_SIZE": "25",
        "GITHUB_BACKOFF_SECONDS": "0.05",
        "GITHUB_TIMEOUT": "0.5",
        "GITHUB_TOKEN": "ghp_test_token_never_logged",
        **extra,
    }


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Set a scrape's environment for the rest of the test."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def stored_rows(database: Path) -> dict[str, list[dict[str, Any]]]:
    """The raw tables, without load times, in a stable order."""
    with open_warehouse(database, read_only=True) as warehouse:
        return {
            table: warehouse.query(
                f"SELECT * EXCLUDE (ingested_at) FROM raw.{table} ORDER BY ALL"
            ).to_pylist()
            for table in ("repositories", "users", "interactions")
        }

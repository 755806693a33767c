"""Building the GitHub scrape configuration from the settings."""

from __future__ import annotations

import csv
import re
from datetime import timedelta

from octorec.github.http import RetryPolicy
from octorec.github.source import GitHubScrapeConfig
from octorec.settings import Settings
from octorec.sources.base import SourceUnavailableError
from octorec.sources.validation import InvalidField, full_name, login


def _items(text: str, separators: str) -> list[str]:
    return [item.strip() for item in re.split(separators, text) if item.strip()]


def _users(settings: Settings) -> list[str]:
    logins = _items(settings.github_users, r"[,\s]+")
    path = settings.github_users_file
    if path is not None:
        if not path.exists():
            raise SourceUnavailableError(f"GITHUB_USERS_FILE {path} does not exist")
        with path.open(newline="", encoding="utf-8") as handle:
            lines = [line for line in handle if line.strip()]
        if lines and lines[0].strip().split(",")[0] == "login":
            logins += [row["login"] for row in csv.DictReader(lines)]
        else:
            logins += [line.strip() for line in lines]
    return list(dict.fromkeys(logins))


def scrape_config(settings: Settings) -> GitHubScrapeConfig:
    """The scrape configuration; invalid names stop the run with a message naming them."""
    try:
        repositories = [full_name(n) for n in _items(settings.github_repositories, r"[,\s]+")]
        users = [login(n) for n in _users(settings)]
    except InvalidField as error:
        raise SourceUnavailableError(f"GITHUB_REPOSITORIES/GITHUB_USERS: {error}") from None
    token = settings.github_token.get_secret_value() if settings.github_token else None
    return GitHubScrapeConfig(
        api_url=settings.github_api_url,
        token=token or None,
        search_queries=tuple(_items(settings.github_search_queries, r";")),
        repositories=tuple(dict.fromkeys(repositories)),
        users=tuple(users),
        max_repositories=settings.github_max_repositories,
        batch_size=settings.github_batch_size,
        policy=RetryPolicy(
            max_retries=settings.github_max_retries,
            backoff_base=settings.github_backoff_seconds,
            max_wait=settings.github_max_wait_seconds,
        ),
        timeout=settings.github_timeout_seconds,
        max_detail_age=timedelta(days=settings.github_max_detail_age_days),
    )

"""The live GitHub source: search and explicit repositories, users, their stars and repositories.

Work happens in three phases, each committed in batches as it goes:
1. candidates: repositories from `GITHUB_SEARCH_QUERIES` (split past the 1,000 cap) and the
   explicit `GITHUB_REPOSITORIES` (conditional REST requests: unchanged ones cost nothing and
   renamed ones are followed);
2. users: profile, starred (with the time starred) and owned repositories, one batch per user;
   repositories they reference join the candidates;
3. details: GraphQL lookups of many repositories per request for every candidate that is new or
   changed since the stored copy (by `pushed_at`), one batch per request.

A run that is killed and started again finds the committed batches in the warehouse and only
fetches what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from octorec.github import records
from octorec.github.http import GitHubFetchError, GitHubHttp, ResponseCache, RetryPolicy
from octorec.github.search import search_repositories
from octorec.sources.base import GitHubSource, RepositoryRecord, SourceData, SourceUnavailableError

logger = logging.getLogger(__name__)

PER_PAGE = 100
STAR_MEDIA_TYPE = "application/vnd.github.star+json"


class ScrapeState(Protocol):
    """What has been stored already, so that a run fetches only what is new or changed."""

    def repository_versions(self) -> dict[str, datetime | None]:
        """Stored repositories by lower-cased full name, with their `pushed_at`."""

    def stored_users(self) -> set[str]:
        """Lower-cased logins already stored."""


@dataclass(frozen=True)
class GitHubScrapeConfig:
    """What to collect and how politely."""

    api_url: str
    token: str | None = field(repr=False)
    search_queries: tuple[str, ...]
    repositories: tuple[str, ...]
    users: tuple[str, ...]
    max_repositories: int
    batch_size: int
    policy: RetryPolicy
    timeout: float


@dataclass
class ScrapeProgress:
    """Where a scrape stands, reported after every batch."""

    phase: str
    done: int
    total: int
    stats: dict[str, Any]


class GitHubApiSource(GitHubSource):
    """Reads from the GitHub REST and GraphQL APIs (or any server that speaks them)."""

    name = "github"

    def __init__(
        self,
        config: GitHubScrapeConfig,
        *,
        state: ScrapeState | None = None,
        cache: ResponseCache | None = None,
        on_progress: Callable[[ScrapeProgress], None] | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.http = GitHubHttp(
            config.api_url, config.token, policy=config.policy, timeout=config.timeout, cache=cache
        )
        self.on_progress = on_progress or (lambda progress: None)

    def check_available(self) -> dict[str, Any]:
        try:
            limits = self.http.get("/rate_limit").body["resources"]
        except GitHubFetchError as error:
            raise SourceUnavailableError(
                f"the GitHub API at {self.config.api_url} cannot be reached: {error}"
            ) from None
        if not (self.config.search_queries or self.config.repositories or self.config.users):
            raise SourceUnavailableError(
                "OCTOREC_SOURCE=github needs something to collect: set GITHUB_SEARCH_QUERIES, "
                "GITHUB_REPOSITORIES or GITHUB_USERS"
            )
        return {
            "api_url": self.config.api_url,
            "authenticated": self.config.token is not None,
            "core_remaining": limits.get("core", {}).get("remaining"),
            "search_remaining": limits.get("search", {}).get("remaining"),
            "graphql_remaining": limits.get("graphql", {}).get("remaining"),
        }

    def batches(self) -> Iterator[SourceData]:
        stored = self.state.repository_versions() if self.state else {}
        stored_users = self.state.stored_users() if self.state else set()
        wanted: dict[str, datetime | None] = {}
        unavailable: list[RepositoryRecord] = []

        for query in self.config.search_queries:
            room = self.config.max_repositories - len(wanted)
            if room <= 0:
                break
            for item in search_repositories(self.http, query, room):
                wanted.setdefault(item["full_name"], records.version_of(item))
            self._report("search", len(wanted), self.config.max_repositories)

        for full_name in self.config.repositories:
            response = self.http.get(f"/repos/{full_name}", missing_ok=True)
            if response.status != 200:
                unavailable.append(records.unavailable_repository(full_name, response.status))
                continue
            # A renamed repository answers 301 and is followed: keep it under its new name.
            wanted[response.body["full_name"]] = records.version_of(response.body)
        if unavailable:
            yield SourceData(repositories=unavailable)

        for number, login in enumerate(self.config.users, start=1):
            batch = self._user(login, wanted, stored_users)
            if batch is not None:
                yield batch
            self._report("users", number, len(self.config.users))

        to_fetch = [
            name
            for name, version in wanted.items()
            if name.lower() not in stored or version is None or stored[name.lower()] != version
        ]
        logger.info(
            "%d repositories wanted, %d new or changed, %d unchanged",
            len(wanted),
            len(to_fetch),
            len(wanted) - len(to_fetch),
        )
        for start in range(0, len(to_fetch), self.config.batch_size):
            names = to_fetch[start : start + self.config.batch_size]
            yield SourceData(repositories=self._details(names))
            self._report("details", start + len(names), len(to_fetch))

    def _user(
        self, login: str, wanted: dict[str, datetime | None], stored_users: set[str]
    ) -> SourceData | None:
        profile = self.http.get(f"/users/{login}", missing_ok=True)
        if profile.status != 200:
            logger.warning("user %s not found (HTTP %d); skipped", login, profile.status)
            return None
        canonical = profile.body["login"]
        starred, starred_same = self._all_pages(
            f"/users/{canonical}/starred", accept=STAR_MEDIA_TYPE
        )
        owned, owned_same = self._all_pages(f"/users/{canonical}/repos", {"type": "owner"})
        for item in starred:
            wanted.setdefault(item["repo"]["full_name"], records.version_of(item["repo"]))
        for repository in owned:
            wanted.setdefault(repository["full_name"], records.version_of(repository))
        if (
            profile.not_modified
            and starred_same
            and owned_same
            and canonical.lower() in stored_users
        ):
            return None  # stored, and every page answered 304: nothing to rewrite
        interactions = [records.star_from_rest(canonical, item) for item in starred]
        interactions += [records.own_from_rest(canonical, repo) for repo in owned]
        return SourceData(
            users=[records.user_from_rest(profile.body)],
            interactions=interactions,
            replaces_interactions_of=[canonical],
        )

    def _all_pages(
        self, path: str, params: dict[str, Any] | None = None, *, accept: str | None = None
    ) -> tuple[list[Any], bool]:
        """Every item of a paginated list, and whether every page was unchanged (304)."""
        items: list[Any] = []
        unchanged = True
        page = 1
        while True:
            response = self.http.get(
                path, {**(params or {}), "per_page": PER_PAGE, "page": page}, accept=accept
            )
            items.extend(response.body)
            unchanged = unchanged and response.not_modified
            # A stored full page may have gained a successor since: its replayed Link cannot say.
            grown = response.not_modified and len(response.body) == PER_PAGE
            if not response.next_page() and not grown:
                return items, unchanged
            if not response.body:
                return items, unchanged
            page += 1

    def _details(self, names: list[str]) -> list[RepositoryRecord]:
        query, aliases = records.batch_query(names)
        data = self.http.graphql(query).body["data"]
        found: list[RepositoryRecord] = []
        for alias, name in aliases.items():
            node = data.get(alias)
            found.append(
                records.repository_from_graphql(node, name)
                if node
                else records.unavailable_repository(name, "NOT_FOUND")
            )
        return found

    def _report(self, phase: str, done: int, total: int) -> None:
        self.on_progress(ScrapeProgress(phase, done, total, self.http.stats.as_metadata()))

    def close(self) -> None:
        self.http.close()

    def request_stats(self) -> dict[str, Any]:
        return self.http.stats.as_metadata()


__all__ = ["GitHubApiSource", "GitHubScrapeConfig", "ScrapeProgress", "ScrapeState"]

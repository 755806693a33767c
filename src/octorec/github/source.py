"""The live GitHub source: search and explicit repositories, users, their stars and repositories.

Work happens in three phases, each committed in batches as it goes:
1. candidates: repositories from `GITHUB_SEARCH_QUERIES` (split past the 1,000 cap) and the
   explicit `GITHUB_REPOSITORIES` (conditional REST requests: unchanged ones cost nothing and
   renamed ones are followed);
2. users: profile, starred (with the time starred) and owned repositories, one batch per user;
   a list that changed while it was paged (its first page's ETag moved) is paged again;
   repositories they reference join the candidates;
3. details of every candidate that is new, changed since the stored copy (`pushed_at` or
   `updated_at`), stored under another id, or older than `max_detail_age`: GraphQL lookups of
   many repositories per request (a batch GraphQL answers with its transient timeout is
   halved), or three REST requests per repository when there is no token (GraphQL refuses
   anonymous requests).

The answers cached for conditional requests (ETags) travel with the batch derived from them
and commit in its transaction, so a run that dies between the two leaves neither: the next run
fetches the answer again instead of trusting a `304` for rows that were never stored. A run
that is killed and started again finds the committed batches and only fetches what is missing.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from octorec.github import records
from octorec.github.http import (
    GitHubFetchError,
    GitHubHttp,
    GraphQLTimeoutError,
    MemoryCache,
    ResponseCache,
    RetryPolicy,
)
from octorec.github.records import StoredRepository, Version
from octorec.github.search import search_repositories
from octorec.sources.base import (
    GitHubSource,
    RejectedRow,
    RepositoryRecord,
    SourceData,
    SourceUnavailableError,
)
from octorec.sources.validation import InvalidField

logger = logging.getLogger(__name__)

PER_PAGE = 100
STAR_MEDIA_TYPE = "application/vnd.github.star+json"
LIST_READS = 3  # attempts at reading a list that keeps changing while it is paged
GRAPHQL_TIMEOUT_RETRIES = 1  # retries of a batch GraphQL timed out on before it is halved


class ScrapeState(Protocol):
    """What has been stored already, so that a run fetches only what is new or changed."""

    def repository_versions(self) -> dict[str, StoredRepository]:
        """Stored available repositories by lower-cased full name."""

    def stored_users(self) -> set[str]:
        """Lower-cased logins already stored."""


class PendingCache:
    """A `ResponseCache` whose new entries wait to be committed with the batch they fed.

    Reads see the pending entries first, then the stored ones.
    """

    def __init__(self, stored: ResponseCache) -> None:
        self.stored = stored
        self._pending: dict[str, tuple[str, Any]] = {}

    def get(self, key: str) -> tuple[str, Any] | None:
        return self._pending.get(key) or self.stored.get(key)

    def put(self, key: str, etag: str, body: Any) -> None:
        self._pending[key] = (etag, body)

    def take(self) -> list[tuple[str, str, Any]]:
        """The pending entries, handed over (to a batch) and forgotten here."""
        entries = [(key, etag, body) for key, (etag, body) in self._pending.items()]
        self._pending.clear()
        return entries


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
    max_detail_age: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class UserProjects:
    """A GitHub user's canonical login and the names of what they starred and own."""

    login: str
    starred: list[str]
    owned: list[str]


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
        self.cache = PendingCache(cache) if cache is not None else None
        self.http = GitHubHttp(
            config.api_url,
            config.token,
            policy=config.policy,
            timeout=config.timeout,
            cache=self.cache or MemoryCache(),
        )
        self.on_progress = on_progress or (lambda progress: None)
        self._asked_again: set[str] = set()

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
        if self.config.token is None:
            logger.warning(
                "no GITHUB_TOKEN: details come from REST, three requests a repository, within "
                "the anonymous limit of 60 requests an hour"
            )
        return {
            "api_url": self.config.api_url,
            "authenticated": self.config.token is not None,
            "details_from": "graphql" if self.config.token else "rest",
            "core_remaining": limits.get("core", {}).get("remaining"),
            "search_remaining": limits.get("search", {}).get("remaining"),
            "graphql_remaining": limits.get("graphql", {}).get("remaining"),
        }

    def _batch(self, **parts: Any) -> SourceData:
        """A batch carrying the cached answers it was derived from (committed with it)."""
        return SourceData(**parts, http_cache=self.cache.take() if self.cache else [])

    def batches(self) -> Iterator[SourceData]:
        stored = self.state.repository_versions() if self.state else {}
        stored_users = self.state.stored_users() if self.state else set()
        wanted: dict[str, Version] = {}
        unavailable: list[RepositoryRecord] = []

        for query in self.config.search_queries:
            room = self.config.max_repositories - len(wanted)
            if room <= 0:
                break
            for item in search_repositories(self.http, query, room):
                if _named(item):
                    wanted.setdefault(item["full_name"], records.version_of(item))
            self._report("search", len(wanted), self.config.max_repositories)

        for full_name in self.config.repositories:
            response = self.http.get(f"/repos/{full_name}", missing_ok=True)
            if response.status != 200:
                unavailable.append(records.unavailable_repository(full_name, response.status))
                continue
            if not _named(response.body):
                logger.warning("GET /repos/%s answered no repository; skipped", full_name)
                continue
            # A renamed repository answers 301 and is followed: keep it under its new name.
            wanted[response.body["full_name"]] = records.version_of(response.body)
        if unavailable:
            yield self._batch(repositories=unavailable)

        for number, login in enumerate(self.config.users, start=1):
            batch = self._user(login, wanted, stored_users)
            if batch is not None:
                yield batch
            self._report("users", number, len(self.config.users))

        to_fetch = [name for name, version in wanted.items() if self._stale(stored, name, version)]
        # Details stored before GitHub's id was asked for are read once more to learn it (and
        # whether the repository was renamed since).
        wanted_keys = {name.lower() for name in wanted}
        backfill = [
            name for name, known in stored.items() if not known.id_asked and name not in wanted_keys
        ]
        logger.info(
            "%d repositories wanted, %d new, changed or due, %d unchanged; %d stored without "
            "GitHub's id read again",
            len(wanted),
            len(to_fetch),
            len(wanted) - len(to_fetch),
            len(backfill),
        )
        to_fetch += backfill
        done = 0
        if self.config.token is None:
            for start in range(0, len(to_fetch), self.config.batch_size):
                names = to_fetch[start : start + self.config.batch_size]
                found, rejected = self._rest_details(names)
                yield self._batch(repositories=found, rejected=rejected)
                done += len(names)
                self._report("details", done, len(to_fetch))
            yield from self._leftover_cache()
            return
        size = self.config.batch_size
        pending = list(to_fetch)
        while pending:
            names = pending[:size]
            try:
                found, rejected, retry = self._details(names, smallest=len(names) == 1)
            except GraphQLTimeoutError:
                if len(names) == 1:
                    raise
                size = max(1, len(names) // 2)
                logger.warning(
                    "GraphQL timed out on %d repositories; %d a request now", len(names), size
                )
                continue
            pending = pending[len(names) :] + retry
            yield self._batch(repositories=found, rejected=rejected)
            done += len(names) - len(retry)
            self._report("details", done, len(to_fetch))
        yield from self._leftover_cache()

    def _leftover_cache(self) -> Iterator[SourceData]:
        """Cached answers no batch took (a changed search page whose repositories were all
        stored already): committed on their own at the end."""
        if self.cache is not None:
            entries = self.cache.take()
            if entries:
                yield SourceData(http_cache=entries)

    def _stale(self, stored: dict[str, StoredRepository], name: str, version: Version) -> bool:
        """Whether a wanted repository's stored details are missing, changed or too old."""
        known = stored.get(name.lower())
        if known is None or (version.pushed_at is None and version.updated_at is None):
            return True
        if (version.pushed_at, version.updated_at) != (known.pushed_at, known.updated_at):
            return True
        if not known.id_asked:
            return True  # stored before GitHub's id was asked for
        if (
            None not in (version.github_id, known.github_id)
            and version.github_id != known.github_id
        ):
            return True  # the name now belongs to another repository
        age = datetime.now(UTC) - known.fetched_at if known.fetched_at else None
        return age is None or age >= self.config.max_detail_age

    def user_projects(self, login: str) -> UserProjects | None:
        """One user's public stars and owned repositories, as the scrape reads them (every
        page, conditional requests through this source's cache); None when GitHub has no such
        user. What request-time scoring of a login the last run did not know reads."""
        profile = self.http.get(f"/users/{login}", missing_ok=True)
        if profile.status != 200 or not isinstance(profile.body, dict):
            return None
        canonical = profile.body.get("login")
        if not isinstance(canonical, str):
            return None
        starred, _ = self._all_pages(f"/users/{canonical}/starred", accept=STAR_MEDIA_TYPE)
        owned, _ = self._all_pages(f"/users/{canonical}/repos", {"type": "owner"})
        return UserProjects(
            login=canonical,
            starred=[
                item["repo"]["full_name"]
                for item in starred
                if isinstance(item, dict)
                and isinstance(item.get("repo"), dict)
                and _named(item["repo"])
            ],
            owned=[repository["full_name"] for repository in owned if _named(repository)],
        )

    def _user(
        self, login: str, wanted: dict[str, Version], stored_users: set[str]
    ) -> SourceData | None:
        profile = self.http.get(f"/users/{login}", missing_ok=True)
        if profile.status != 200:
            logger.warning("user %s not found (HTTP %d); skipped", login, profile.status)
            return None
        if not isinstance(profile.body, dict) or not isinstance(profile.body.get("login"), str):
            logger.warning("GET /users/%s answered no user; skipped", login)
            return None
        canonical = profile.body["login"]
        starred, starred_same = self._all_pages(
            f"/users/{canonical}/starred", accept=STAR_MEDIA_TYPE
        )
        owned, owned_same = self._all_pages(f"/users/{canonical}/repos", {"type": "owner"})
        rejected: list[RejectedRow] = []
        interactions = []
        for item in starred:
            repository = item.get("repo") if isinstance(item, dict) else None
            if repository is None or not _named(repository):
                rejected.append(_rejected(f"starred:{canonical}", "repo", item))
                continue
            try:
                interactions.append(records.star_from_rest(canonical, item))
            except InvalidField as error:
                rejected.append(_rejected(f"starred:{canonical}", "starred_at", item, str(error)))
                continue
            wanted.setdefault(repository["full_name"], records.version_of(repository))
        for repository in owned:
            if not _named(repository):
                rejected.append(_rejected(f"repos:{canonical}", "full_name", repository))
                continue
            wanted.setdefault(repository["full_name"], records.version_of(repository))
            interactions.append(records.own_from_rest(canonical, repository))
        if (
            profile.not_modified
            and starred_same
            and owned_same
            and canonical.lower() in stored_users
        ):
            return None  # stored, and every page answered 304: nothing to rewrite
        return self._batch(
            users=[records.user_from_rest(profile.body)],
            interactions=interactions,
            replaces_interactions_of=[canonical],
            rejected=rejected,
        )

    def _all_pages(
        self, path: str, params: dict[str, Any] | None = None, *, accept: str | None = None
    ) -> tuple[list[Any], bool]:
        """Every item of a paginated list, and whether every page was unchanged (304).

        A list that changes while it is paged (a star removed shifts every later item one page
        forward) would lose or repeat items, so after the last page the first is asked again
        (a free `304` when nothing moved); if its ETag changed, the list is read again.
        """
        for attempt in range(1, LIST_READS + 1):
            items, unchanged, first_etag, pages = self._read_pages(path, params, accept)
            if pages == 1:
                return items, unchanged
            again = self.http.get(
                path, {**(params or {}), "per_page": PER_PAGE, "page": 1}, accept=accept
            )
            if again.etag is None or again.etag == first_etag:
                # A list read again is new to the warehouse even where pages now answer 304.
                return items, unchanged and attempt == 1
            logger.warning(
                "%s changed while it was paged (read %d); reading it again", path, attempt
            )
        return items, False

    def _read_pages(
        self, path: str, params: dict[str, Any] | None, accept: str | None
    ) -> tuple[list[Any], bool, str | None, int]:
        items: list[Any] = []
        unchanged = True
        first_etag = None
        page = 1
        while True:
            response = self.http.get(
                path, {**(params or {}), "per_page": PER_PAGE, "page": page}, accept=accept
            )
            if not isinstance(response.body, list):
                raise GitHubFetchError(
                    f"GET {response.url}: expected a list, found {type(response.body).__name__}"
                )
            if page == 1:
                first_etag = response.etag
            items.extend(response.body)
            unchanged = unchanged and response.not_modified
            # A stored full page may have gained a successor since: its replayed Link cannot say.
            grown = response.not_modified and len(response.body) == PER_PAGE
            if (not response.next_page() and not grown) or not response.body:
                return items, unchanged, first_etag, page
            page += 1

    def _details(
        self, names: list[str], *, smallest: bool
    ) -> tuple[list[RepositoryRecord], list[RejectedRow], list[str]]:
        """One GraphQL batch: records, rejected repositories, and names to ask again.

        Only a `NOT_FOUND` error marks a repository unavailable; another error on its path
        (`SERVICE_UNAVAILABLE`, a timeout), or none at all, sends it back to be asked again,
        once; after that it is left as stored (logged) rather than recorded as deleted. A batch
        GraphQL keeps timing out on raises `GraphQLTimeoutError` early, to be halved, unless
        it is down to one repository.
        """
        query, aliases = records.batch_query(names)
        timeout_retries = None if smallest else GRAPHQL_TIMEOUT_RETRIES
        body = self.http.graphql(query, timeout_retries=timeout_retries).body
        data = body["data"]
        failed = {
            str(error["path"][0]): str(error.get("type") or error.get("message") or "an error")
            for error in body.get("errors") or []
            if isinstance(error, dict) and isinstance(error.get("path"), list) and error["path"]
        }
        found: dict[str, RepositoryRecord] = {}
        rejected: list[RejectedRow] = []
        retry: list[str] = []
        for alias, name in aliases.items():
            node = data.get(alias)
            if node is None:
                problem = failed.get(alias, "no data and no error")
                if problem == "NOT_FOUND":
                    found.setdefault(name.lower(), records.unavailable_repository(name, problem))
                elif name in self._asked_again:
                    logger.warning("details of %s not fetched (%s); kept as stored", name, problem)
                else:
                    self._asked_again.add(name)
                    self.http.stats.retries += 1
                    retry.append(name)
                continue
            try:
                record = records.repository_from_graphql(node, name)
            except records.RejectedField as error:
                rejected.append(_rejected(f"graphql:{name}", error.field, node, str(error)))
                continue
            # Two names asked for (an old one and its new one) can answer with one repository.
            key = record.full_name.lower()
            if key not in found or not found[key].is_available or "renamed_from" in record.payload:
                found[key] = record
        return list(found.values()), rejected, retry

    def _rest_details(self, names: list[str]) -> tuple[list[RepositoryRecord], list[RejectedRow]]:
        """Details without a token: the repository, its languages and its README over REST."""
        found: dict[str, RepositoryRecord] = {}
        rejected: list[RejectedRow] = []
        for name in names:
            response = self.http.get(f"/repos/{name}", missing_ok=True)
            if response.status in (404, 410, 451):
                found.setdefault(
                    name.lower(), records.unavailable_repository(name, response.status)
                )
                continue
            if response.status != 200 or not _named(response.body):
                logger.warning(
                    "details of %s not fetched (HTTP %d); kept as stored", name, response.status
                )
                continue
            current = response.body["full_name"]  # a renamed repository was followed
            languages = self.http.get(f"/repos/{current}/languages", missing_ok=True)
            readme = self.http.get(f"/repos/{current}/readme", missing_ok=True)
            try:
                record = records.repository_from_rest(
                    response.body,
                    languages.body if languages.status == 200 else {},
                    _readme_text(readme.body) if readme.status == 200 else None,
                    name,
                )
            except records.RejectedField as error:
                rejected.append(_rejected(f"rest:{name}", error.field, response.body, str(error)))
                continue
            found[record.full_name.lower()] = record
        return list(found.values()), rejected

    def _report(self, phase: str, done: int, total: int) -> None:
        self.on_progress(ScrapeProgress(phase, done, total, self.http.stats.as_metadata()))

    def close(self) -> None:
        self.http.close()

    def request_stats(self) -> dict[str, Any]:
        return self.http.stats.as_metadata()


def _named(repository: Any) -> bool:
    """Whether a REST repository object has the `full_name` everything is keyed on."""
    return isinstance(repository, dict) and isinstance(repository.get("full_name"), str)


def _rejected(where: str, field: str, value: Any, reason: str | None = None) -> RejectedRow:
    """An item of an API answer kept out of the raw tables, with the reason."""
    text = json.dumps(value, default=str, sort_keys=True)
    return RejectedRow(
        source_file=where,
        line_number=1,
        field=field,
        reason=reason or f"expected a repository object with a full_name, found {text[:80]}",
        raw_line=text[:2000],
    )


def _readme_text(body: Any) -> str | None:
    """The text of a `GET /repos/{owner}/{name}/readme` answer (base64 in `content`)."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        return None
    try:
        return base64.b64decode(body["content"]).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None


__all__ = ["GitHubApiSource", "GitHubScrapeConfig", "ScrapeProgress", "ScrapeState"]

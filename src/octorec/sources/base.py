"""The contract every GitHub data source fulfils, and the records it produces."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


class SourceUnavailableError(RuntimeError):
    """The configured source cannot be read; the message says what is missing and where."""


@dataclass(frozen=True)
class RepositoryRecord:
    """One repository as the source describes it, validated but not cleaned."""

    full_name: str
    description: str | None = None
    language: str | None = None
    topics: tuple[str, ...] = ()
    stars: int | None = None
    forks: int | None = None
    open_issues: int | None = None
    created_at: datetime | None = None
    pushed_at: datetime | None = None
    is_fork: bool = False
    is_archived: bool = False
    is_disabled: bool = False
    readme_excerpt: str | None = None
    source: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    languages: dict[str, int] = field(default_factory=dict)
    watchers: int | None = None
    license: str | None = None
    homepage: str | None = None
    updated_at: datetime | None = None
    is_available: bool = True
    github_id: int | None = None  # GitHub's numeric id: the same repository under any name


@dataclass(frozen=True)
class UserRecord:
    """One GitHub user and what they declare about themselves."""

    login: str
    name: str | None = None
    bio: str | None = None
    company: str | None = None
    location: str | None = None
    declared_categories: tuple[str, ...] = ()
    declared_tech_stack: tuple[str, ...] = ()
    snapshot_date: date | None = None
    source: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InteractionRecord:
    """A user's relation to a repository: a star or an owned repository."""

    user_login: str
    repo_full_name: str
    kind: str = "star"
    interacted_at: datetime | None = None
    source: str | None = None


@dataclass(frozen=True)
class RejectedRow:
    """An input row kept out of the raw tables, with where it was and why."""

    source_file: str
    line_number: int
    field: str | None
    reason: str
    raw_line: str

    def describe(self) -> str:
        """One human-readable line: file, line, field and reason."""
        where = f"{self.source_file}:{self.line_number}"
        what = f" field '{self.field}'" if self.field else ""
        return f"{where}{what}: {self.reason}"


@dataclass(frozen=True)
class CompleteSnapshot:
    """Marks a batch as everything its source holds: the raw tables are made equal to it.

    Rows the batch lacks are deleted from the raw tables (a user or repository that left the
    snapshot leaves the warehouse and, with the next run, its recommendations). A batch that would
    empty a raw table holding rows is refused unless `allow_empty`
    (`OCTOREC_ALLOW_EMPTY_SNAPSHOT`) is set.
    """

    files: dict[str, str]
    """Raw table name -> the file its rows come from, for messages."""
    allow_empty: bool = False


@dataclass
class SourceData:
    """Everything one scrape produced, valid records and rejected rows alike."""

    repositories: list[RepositoryRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)
    interactions: list[InteractionRecord] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    replaces_interactions_of: list[str] = field(default_factory=list)
    # (request, etag, stored answer) the live source's batch was derived from: committed with it
    http_cache: list[tuple[str, str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What was read but deserves a look (`file:line: message`): NUL bytes removed, labels
    missing from the taxonomy."""
    complete: CompleteSnapshot | None = None
    """Set when the batch is the whole truth (a snapshot), never for incremental sources."""


class GitHubSource(abc.ABC):
    """A place GitHub repositories, users and their interactions can be read from."""

    name: str

    @abc.abstractmethod
    def check_available(self) -> dict[str, Any]:
        """Verify the source can be read; raise `SourceUnavailableError` saying why not.

        Returns:
            Facts about the source worth recording (paths, sizes), never secrets.
        """

    @abc.abstractmethod
    def batches(self) -> Iterator[SourceData]:
        """Yield what the source offers in batches, each one safe to commit on its own.

        A long scrape commits batch by batch, so a run that is killed and started again only
        fetches what is missing. Invalid rows are kept aside with their reasons.
        """

    def close(self) -> None:  # noqa: B027 (nothing to release by default)
        """Release connections the source holds."""

    def request_stats(self) -> dict[str, Any]:
        """Counts of API requests, waits and rate-limit state, for run metadata (none here)."""
        return {}

    def fetch(self) -> SourceData:
        """Everything the source offers, as one batch (for small sources and tests)."""
        merged = SourceData()
        for batch in self.batches():
            merged.repositories += batch.repositories
            merged.users += batch.users
            merged.interactions += batch.interactions
            merged.rejected += batch.rejected
            merged.files_read += batch.files_read
            merged.replaces_interactions_of += batch.replaces_interactions_of
            merged.http_cache += batch.http_cache
            merged.warnings += batch.warnings
            merged.complete = merged.complete or batch.complete
        return merged

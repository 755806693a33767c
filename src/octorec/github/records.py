"""Turning GitHub API payloads into octorec's raw records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from octorec.sources.base import InteractionRecord, RepositoryRecord, UserRecord
from octorec.sources.validation import InvalidField, full_name, optional_timestamp

README_EXCERPT_CHARACTERS = 2000


class Version(NamedTuple):
    """When a repository last changed, as GitHub's repository objects say."""

    pushed_at: datetime | None
    updated_at: datetime | None
    github_id: int | None


class StoredRepository(NamedTuple):
    """What the warehouse knows of a repository's stored details."""

    pushed_at: datetime | None
    updated_at: datetime | None
    fetched_at: datetime | None
    github_id: int | None
    id_asked: bool  # fetched by a version asking for GitHub's id (else read once more)


# One GraphQL selection gives everything the REST API needs three calls for.
REPOSITORY_FIELDS = """
  databaseId nameWithOwner description homepageUrl
  primaryLanguage { name }
  languages(first: 20, orderBy: {field: SIZE, direction: DESC}) { edges { size node { name } } }
  repositoryTopics(first: 20) { nodes { topic { name } } }
  stargazerCount forkCount
  watchers { totalCount }
  issues(states: OPEN) { totalCount }
  licenseInfo { spdxId }
  isFork isArchived isDisabled createdAt updatedAt pushedAt
  readme: object(expression: "HEAD:README.md") { ... on Blob { text } }
"""


def batch_query(full_names: list[str]) -> tuple[str, dict[str, str]]:
    """A GraphQL query looking up many repositories at once, and each alias's full name."""
    aliases = {f"r{i}": name for i, name in enumerate(full_names)}
    lookups = "\n".join(
        f"  {alias}: repository(owner: {json.dumps(name.split('/')[0])}, "
        f"name: {json.dumps(name.split('/')[1])}) {{ {REPOSITORY_FIELDS} }}"
        for alias, name in aliases.items()
    )
    return f"query {{\n{lookups}\n  rateLimit {{ cost remaining resetAt }}\n}}", aliases


def _excerpt(text: str | None) -> str | None:
    if not text:
        return None
    return text[:README_EXCERPT_CHARACTERS].strip() or None


class RejectedField(InvalidField):
    """A field whose value is not of the type GitHub's schema gives it."""

    def __init__(self, field: str, expected: str, value: Any) -> None:
        super().__init__(f"expected {expected}, found {_shown(value)}")
        self.field = field


def _shown(value: Any) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


_KINDS: dict[str, tuple[type, ...]] = {
    "a string": (str,),
    "an integer": (int,),
    "true or false": (bool,),
    "an object": (dict,),
    "a list": (list,),
}


def _read(obj: dict[str, Any], key: str, kind: str, path: str, *, nullable: bool) -> Any:
    """`obj[key]` when it has the schema's type (`None` only where the schema allows null)."""
    value = obj.get(key)
    if value is None:
        if nullable:
            return None
        raise RejectedField(path, kind, value)
    is_bool = isinstance(value, bool)
    if not isinstance(value, _KINDS[kind]) or (is_bool and kind == "an integer"):
        raise RejectedField(path, kind, value)
    return value


def _count(obj: dict[str, Any], key: str, path: str, *, nullable: bool = False) -> int | None:
    value = _read(obj, key, "an integer", path, nullable=nullable)
    if value is not None and value < 0:
        raise RejectedField(path, "a non-negative integer", value)
    return value


def _timestamp(obj: dict[str, Any], key: str, path: str, *, nullable: bool) -> datetime | None:
    text = _read(obj, key, "a string", path, nullable=nullable)
    try:
        return optional_timestamp(text)
    except InvalidField as error:
        raise RejectedField(path, "an ISO 8601 timestamp", text) from error


def _nodes(obj: dict[str, Any] | None, key: str, path: str) -> list[dict[str, Any]]:
    """A connection's nullable list of nullable items, without the null items."""
    if obj is None:
        return []
    items = _read(obj, key, "a list", path, nullable=True) or []
    for item in items:
        if item is not None and not isinstance(item, dict):
            raise RejectedField(path, "a list of objects", item)
    return [item for item in items if item is not None]


def repository_from_graphql(node: dict[str, Any], requested: str) -> RepositoryRecord:
    """A repository from a GraphQL node, every field read as GitHub's schema types it.

    Nullable fields (`languages`, `primaryLanguage`, `licenseInfo`, `pushedAt`, the README…)
    may be null; a value of another type raises `RejectedField` naming the field. A rename shows
    as another `nameWithOwner` and is kept in the payload as `renamed_from`.
    """
    if not isinstance(node, dict):
        raise RejectedField("repository", "an object", node)
    name = _read(node, "nameWithOwner", "a string", "nameWithOwner", nullable=False)
    try:
        full_name(name)
    except InvalidField as error:
        raise RejectedField("nameWithOwner", "a repository name 'owner/name'", name) from error
    payload = dict(node)
    if name.lower() != requested.lower():
        payload["renamed_from"] = requested
    languages_connection = _read(node, "languages", "an object", "languages", nullable=True)
    languages: dict[str, int] = {}
    for edge in _nodes(languages_connection, "edges", "languages.edges"):
        language = _read(edge, "node", "an object", "languages.edges.node", nullable=False)
        languages[
            _read(language, "name", "a string", "languages.edges.node.name", nullable=False)
        ] = _count(edge, "size", "languages.edges.size") or 0
    topics_connection = _read(
        node, "repositoryTopics", "an object", "repositoryTopics", nullable=False
    )
    topics = []
    for item in _nodes(topics_connection, "nodes", "repositoryTopics.nodes"):
        topic = _read(item, "topic", "an object", "repositoryTopics.nodes.topic", nullable=False)
        topics.append(
            _read(topic, "name", "a string", "repositoryTopics.nodes.topic.name", nullable=False)
        )
    primary = _read(node, "primaryLanguage", "an object", "primaryLanguage", nullable=True)
    licence = _read(node, "licenseInfo", "an object", "licenseInfo", nullable=True)
    readme = _read(node, "readme", "an object", "readme", nullable=True)
    watchers = _read(node, "watchers", "an object", "watchers", nullable=False)
    issues = _read(node, "issues", "an object", "issues", nullable=False)
    homepage = _read(node, "homepageUrl", "a string", "homepageUrl", nullable=True)
    return RepositoryRecord(
        full_name=name,
        github_id=_count(node, "databaseId", "databaseId", nullable=True),
        description=_read(node, "description", "a string", "description", nullable=True),
        language=_read(primary, "name", "a string", "primaryLanguage.name", nullable=False)
        if primary is not None
        else None,
        topics=tuple(dict.fromkeys(topics)),
        stars=_count(node, "stargazerCount", "stargazerCount"),
        forks=_count(node, "forkCount", "forkCount"),
        watchers=_count(watchers, "totalCount", "watchers.totalCount"),
        open_issues=_count(issues, "totalCount", "issues.totalCount"),
        license=_read(licence, "spdxId", "a string", "licenseInfo.spdxId", nullable=True)
        if licence is not None
        else None,
        homepage=homepage or None,
        is_fork=_read(node, "isFork", "true or false", "isFork", nullable=False),
        is_archived=_read(node, "isArchived", "true or false", "isArchived", nullable=False),
        is_disabled=_read(node, "isDisabled", "true or false", "isDisabled", nullable=False),
        created_at=_timestamp(node, "createdAt", "createdAt", nullable=False),
        updated_at=_timestamp(node, "updatedAt", "updatedAt", nullable=False),
        pushed_at=_timestamp(node, "pushedAt", "pushedAt", nullable=True),
        readme_excerpt=_excerpt(
            _read(readme, "text", "a string", "readme.text", nullable=True)
            if readme is not None
            else None
        ),
        languages=languages,
        source="github-graphql",
        payload={k: v for k, v in payload.items() if k != "readme"},
    )


def repository_from_rest(
    repository: dict[str, Any], languages: Any, readme: str | None, requested: str
) -> RepositoryRecord:
    """A repository from `GET /repos/{owner}/{name}`, its `/languages` and decoded `/readme`
    (the details without a token, where GraphQL refuses anonymous requests)."""
    if not isinstance(repository, dict):
        raise RejectedField("repository", "an object", repository)
    name = _read(repository, "full_name", "a string", "full_name", nullable=False)
    try:
        full_name(name)
    except InvalidField as error:
        raise RejectedField("full_name", "a repository name 'owner/name'", name) from error
    if not isinstance(languages, dict):
        raise RejectedField("languages", "an object of byte counts", languages)
    for language, size in languages.items():
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RejectedField(f"languages.{language}", "a non-negative integer", size)
    topics = _read(repository, "topics", "a list", "topics", nullable=True) or []
    for topic in topics:
        if not isinstance(topic, str):
            raise RejectedField("topics", "a list of strings", topic)
    licence = _read(repository, "license", "an object", "license", nullable=True)
    spdx = (
        _read(licence, "spdx_id", "a string", "license.spdx_id", nullable=True)
        if licence is not None
        else None
    )
    payload = dict(repository)
    if name.lower() != requested.lower():
        payload["renamed_from"] = requested
    return RepositoryRecord(
        full_name=name,
        github_id=_count(repository, "id", "id", nullable=True),
        description=_read(repository, "description", "a string", "description", nullable=True),
        language=_read(repository, "language", "a string", "language", nullable=True),
        topics=tuple(dict.fromkeys(topics)),
        stars=_count(repository, "stargazers_count", "stargazers_count"),
        forks=_count(repository, "forks_count", "forks_count"),
        # REST's `watchers_count` repeats the stars; `subscribers_count` is GraphQL's watchers.
        watchers=_count(repository, "subscribers_count", "subscribers_count", nullable=True),
        open_issues=_count(repository, "open_issues_count", "open_issues_count"),
        license=spdx,
        homepage=_read(repository, "homepage", "a string", "homepage", nullable=True) or None,
        is_fork=_read(repository, "fork", "true or false", "fork", nullable=False),
        is_archived=_read(repository, "archived", "true or false", "archived", nullable=False),
        is_disabled=bool(_read(repository, "disabled", "true or false", "disabled", nullable=True)),
        created_at=_timestamp(repository, "created_at", "created_at", nullable=False),
        updated_at=_timestamp(repository, "updated_at", "updated_at", nullable=False),
        pushed_at=_timestamp(repository, "pushed_at", "pushed_at", nullable=True),
        readme_excerpt=_excerpt(readme),
        languages=dict(languages),
        source="github-rest",
        payload=payload,
    )


def unavailable_repository(full_name: str, status: int | str) -> RepositoryRecord:
    """A repository GitHub no longer serves (deleted, private or blocked)."""
    return RepositoryRecord(
        full_name=full_name,
        is_available=False,
        source="github",
        payload={"unavailable": str(status)},
    )


def version_of(rest_repository: dict[str, Any]) -> Version:
    """What says a REST repository object changed: `pushed_at` (code), `updated_at` (the
    repository object: description, topics, stars…) and GitHub's numeric id (a name taken over
    by another repository); values of the wrong type count as unknown."""

    def stamp(key: str) -> datetime | None:
        try:
            value = rest_repository.get(key)
            return optional_timestamp(value) if isinstance(value, str) else None
        except InvalidField:
            return None

    github_id = rest_repository.get("id")
    return Version(
        stamp("pushed_at"),
        stamp("updated_at"),
        github_id if isinstance(github_id, int) and not isinstance(github_id, bool) else None,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def user_from_rest(profile: dict[str, Any]) -> UserRecord:
    """A user from `GET /users/{login}`; profile texts of another type count as missing."""
    return UserRecord(
        login=profile["login"],
        name=_text(profile.get("name")),
        bio=_text(profile.get("bio")),
        company=_text(profile.get("company")),
        location=_text(profile.get("location")),
        source="github",
        payload=profile,
    )


def star_from_rest(login: str, item: dict[str, Any]) -> InteractionRecord:
    """A star from `GET /users/{login}/starred` with the `star+json` media type."""
    starred_at = item.get("starred_at")
    if starred_at is not None and not isinstance(starred_at, str):
        raise InvalidField(f"expected an ISO 8601 timestamp, found {_shown(starred_at)}")
    return InteractionRecord(
        user_login=login,
        repo_full_name=item["repo"]["full_name"],
        kind="star",
        interacted_at=optional_timestamp(starred_at),
        source="github",
    )


def own_from_rest(login: str, repository: dict[str, Any]) -> InteractionRecord:
    """An owned repository from `GET /users/{login}/repos`."""
    return InteractionRecord(
        user_login=login, repo_full_name=repository["full_name"], kind="own", source="github"
    )

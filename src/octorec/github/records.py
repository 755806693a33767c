"""Turning GitHub API payloads into octorec's raw records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from octorec.sources.base import InteractionRecord, RepositoryRecord, UserRecord
from octorec.sources.validation import optional_timestamp

README_EXCERPT_CHARACTERS = 2000

# One GraphQL selection gives everything the REST API needs three calls for.
REPOSITORY_FIELDS = """
  nameWithOwner description homepageUrl
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


def repository_from_graphql(node: dict[str, Any], requested: str) -> RepositoryRecord:
    """A repository from a GraphQL node; a rename shows as another `nameWithOwner`."""
    payload = dict(node)
    if node["nameWithOwner"].lower() != requested.lower():
        payload["renamed_from"] = requested
    languages = {edge["node"]["name"]: int(edge["size"]) for edge in node["languages"]["edges"]}
    return RepositoryRecord(
        full_name=node["nameWithOwner"],
        description=node.get("description"),
        language=(node.get("primaryLanguage") or {}).get("name"),
        topics=tuple(n["topic"]["name"] for n in node["repositoryTopics"]["nodes"]),
        stars=node.get("stargazerCount"),
        forks=node.get("forkCount"),
        watchers=(node.get("watchers") or {}).get("totalCount"),
        open_issues=(node.get("issues") or {}).get("totalCount"),
        license=(node.get("licenseInfo") or {}).get("spdxId"),
        homepage=node.get("homepageUrl") or None,
        is_fork=bool(node.get("isFork")),
        is_archived=bool(node.get("isArchived")),
        is_disabled=bool(node.get("isDisabled")),
        created_at=optional_timestamp(node.get("createdAt")),
        updated_at=optional_timestamp(node.get("updatedAt")),
        pushed_at=optional_timestamp(node.get("pushedAt")),
        readme_excerpt=_excerpt((node.get("readme") or {}).get("text")),
        languages=languages,
        source="github-graphql",
        payload={k: v for k, v in payload.items() if k != "readme"},
    )


def unavailable_repository(full_name: str, status: int | str) -> RepositoryRecord:
    """A repository GitHub no longer serves (deleted, private or blocked)."""
    return RepositoryRecord(
        full_name=full_name,
        is_available=False,
        source="github",
        payload={"unavailable": str(status)},
    )


def version_of(rest_repository: dict[str, Any]) -> datetime | None:
    """When a REST repository object last changed (its `pushed_at`, else `updated_at`)."""
    return optional_timestamp(rest_repository.get("pushed_at")) or optional_timestamp(
        rest_repository.get("updated_at")
    )


def user_from_rest(profile: dict[str, Any]) -> UserRecord:
    """A user from `GET /users/{login}`."""
    return UserRecord(
        login=profile["login"],
        name=profile.get("name"),
        bio=profile.get("bio"),
        company=profile.get("company"),
        location=profile.get("location"),
        source="github",
        payload=profile,
    )


def star_from_rest(login: str, item: dict[str, Any]) -> InteractionRecord:
    """A star from `GET /users/{login}/starred` with the `star+json` media type."""
    return InteractionRecord(
        user_login=login,
        repo_full_name=item["repo"]["full_name"],
        kind="star",
        interacted_at=optional_timestamp(item.get("starred_at")),
        source="github",
    )


def own_from_rest(login: str, repository: dict[str, Any]) -> InteractionRecord:
    """An owned repository from `GET /users/{login}/repos`."""
    return InteractionRecord(
        user_login=login, repo_full_name=repository["full_name"], kind="own", source="github"
    )

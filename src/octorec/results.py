"""Reading stored recommendations back, for people and programs."""

from __future__ import annotations

from dataclasses import dataclass

from octorec import constants as c
from octorec.warehouse import Warehouse


class UnknownUserError(LookupError):
    """No recommendations are stored for this login."""


@dataclass(frozen=True)
class StoredRecommendation:
    """One row of `user_project_similarities`."""

    user_login: str
    rank: int
    project_full_name: str
    score: float
    semantic_similarity: float
    category_similarity: float
    tech_stack_similarity: float
    popularity_similarity: float
    collaborative_similarity: float
    matched_categories: list[str]
    matched_tech_stack: list[str]
    similar_known_project: str | None
    reason: str


_COLUMNS = (
    "user_login, rank, project_full_name, score, semantic_similarity, category_similarity, "
    "tech_stack_similarity, popularity_similarity, collaborative_similarity, matched_categories, "
    "matched_tech_stack, similar_known_project, reason"
)


def recommendations_for(
    warehouse: Warehouse, login: str, limit: int | None = None
) -> list[StoredRecommendation]:
    """A user's stored recommendations, best first (login compared without case)."""
    rows = warehouse.query(
        f"SELECT {_COLUMNS} FROM {c.USER_PROJECT_SIMILARITIES} "
        "WHERE lower(user_login) = lower(?) ORDER BY rank LIMIT ?",
        [login, limit if limit is not None else 2**31 - 1],
    ).to_pylist()
    if not rows:
        raise UnknownUserError(f"no recommendations stored for {login!r}")
    return [StoredRecommendation(**row) for row in rows]


def users_with_recommendations(warehouse: Warehouse, limit: int) -> list[str]:
    """The first `limit` logins (alphabetically) that have recommendations."""
    rows = warehouse.query(f"SELECT DISTINCT user_login FROM {c.USER_PROJECT_SIMILARITIES}")
    return sorted(str(login) for login in rows.column("user_login").to_pylist())[:limit]

"""Reading stored results back, for people and programs: recommendations, users, similar projects.

Everything here reads what the pipeline stored; nothing is recomputed. Logins and repository
names are compared without case, as GitHub does; unknown ones raise errors that carry the
closest known names.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

import numpy as np

from octorec import constants as c
from octorec.warehouse import Warehouse, WarehouseError, matrix_from_arrow

CLOSE_MATCHES = 3


class UnknownNameError(LookupError):
    """A login or repository the stored results do not know; `close_matches` suggests others."""

    def __init__(self, message: str, close_matches: Sequence[str] = ()) -> None:
        self.close_matches = list(close_matches)
        hint = f" (did you mean {', '.join(self.close_matches)}?)" if self.close_matches else ""
        super().__init__(f"{message}{hint}")


class UnknownUserError(UnknownNameError):
    """No recommendations are stored for this login."""


class UnknownProjectError(UnknownNameError):
    """No embedding is stored for this repository."""


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
    semantic_weight: float
    category_weight: float
    tech_stack_weight: float
    popularity_weight: float
    collaborative_weight: float
    """The weights this user's scores were made with: score = Σ weight × similarity."""


@dataclass(frozen=True)
class ProjectSummary:
    """What a person wants to see of a project: its name, description, language and stars."""

    full_name: str
    description: str | None
    language: str | None
    stars: int
    topics: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tech_stack: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The project's page on GitHub."""
        return f"https://github.com/{self.full_name}"


@dataclass(frozen=True)
class SimilarProject:
    """A project like another one: cosine of their hybrid embeddings and the labels they share."""

    full_name: str
    similarity: float
    shared_categories: list[str]
    shared_tech_stack: list[str]


RECOMMENDATION_COLUMNS = ", ".join(f.name for f in fields(StoredRecommendation))
"""The stored columns a `StoredRecommendation` is read from (its fields: the API's fixed shape
holds the default components; a component declared later is stored but not served)."""


def close_matches(name: str, known: Sequence[str], count: int = CLOSE_MATCHES) -> list[str]:
    """The known names closest to `name` (compared without case), best first."""
    by_lower = {k.lower(): k for k in known}
    found = difflib.get_close_matches(name.lower(), list(by_lower), n=count, cutoff=0.6)
    return [by_lower[k] for k in found]


def known_logins(warehouse: Warehouse) -> list[str]:
    """Every login with stored recommendations, alphabetically."""
    rows = warehouse.query(f"SELECT DISTINCT user_login FROM {c.USER_PROJECT_SIMILARITIES}")
    return sorted(str(login) for login in rows.column("user_login").to_pylist())


def recommendations_for(
    warehouse: Warehouse, login: str, limit: int | None = None
) -> list[StoredRecommendation]:
    """A user's stored recommendations, best first (login compared without case)."""
    rows = warehouse.query(
        f"SELECT {RECOMMENDATION_COLUMNS} FROM {c.USER_PROJECT_SIMILARITIES} "
        "WHERE lower(user_login) = lower(?) ORDER BY rank LIMIT ?",
        [login, limit if limit is not None else 2**31 - 1],
    ).to_pylist()
    if not rows:
        raise UnknownUserError(
            f"no recommendations stored for {login!r}",
            close_matches(login, known_logins(warehouse)),
        )
    return [StoredRecommendation(**row) for row in rows]


def users_with_recommendations(warehouse: Warehouse, limit: int) -> list[str]:
    """The first `limit` logins (alphabetically) that have recommendations."""
    return known_logins(warehouse)[:limit]


def search_logins(logins: Sequence[str], query: str, limit: int) -> list[str]:
    """Logins containing `query` (without case): those starting with it first, then A to Z."""
    needle = query.strip().lower()
    found = [login for login in logins if needle in login.lower()]
    found.sort(key=lambda login: (not login.lower().startswith(needle), login.lower()))
    return found[:limit]


def last_run(warehouse: Warehouse) -> tuple[str, datetime] | None:
    """The run that stored the current recommendations and when, or None before the first."""
    rows = warehouse.query(
        f"SELECT run_id, max(computed_at) AS computed_at FROM {c.USER_PROJECT_SIMILARITIES} "
        "GROUP BY run_id ORDER BY computed_at DESC LIMIT 1"
    ).to_pylist()
    return (str(rows[0]["run_id"]), rows[0]["computed_at"]) if rows else None


def results_marker(warehouse: Warehouse) -> tuple[object, ...] | None:
    """What identifies the stored results a reader holds: the run and time of the stored
    recommendations and of the project embeddings (rematerialised on their own, they change
    what "similar" answers). None before the pipeline stored any."""
    try:
        recommendations = warehouse.query(
            f"SELECT max(run_id) AS run_id, max(computed_at) AS at, count(*) AS n "
            f"FROM {c.USER_PROJECT_SIMILARITIES}"
        ).to_pylist()[0]
        projects = warehouse.query(
            f"SELECT max(computed_at) AS at, count(*) AS n FROM {c.PROJECT_HYBRID_EMBEDDINGS}"
        ).to_pylist()[0]
    except WarehouseError:
        return None
    return (*recommendations.values(), *projects.values())


def known_projects(warehouse: Warehouse) -> dict[str, list[str]]:
    """Each scored user's known projects (starred, owned or liked; catalogue names, sorted),
    keyed by lower-case login: the evidence their recommendations were made from. Empty when
    the scoring model was not built here."""
    try:
        rows = warehouse.query(
            f"SELECT user_login, known_projects FROM {c.DBT_USER_PROJECT_SIMILARITIES}"
        ).to_pylist()
    except WarehouseError:
        return {}
    return {str(row["user_login"]).lower(): list(row["known_projects"] or []) for row in rows}


def project_summaries(warehouse: Warehouse) -> dict[str, ProjectSummary]:
    """Every prepared project, keyed by its lower-case full name."""
    rows = warehouse.query(
        "SELECT full_name, description, language, stars, topics, categories, tech_stack "
        f"FROM {c.DBT_PROJECT_ENRICHED_DATA}"
    ).to_pylist()
    return {
        str(row["full_name"]).lower(): ProjectSummary(
            full_name=row["full_name"],
            description=row["description"],
            language=row["language"],
            stars=int(row["stars"] or 0),
            topics=list(row["topics"] or []),
            categories=list(row["categories"] or []),
            tech_stack=list(row["tech_stack"] or []),
        )
        for row in rows
    }


class ProjectVectors:
    """The stored hybrid project embeddings, for "projects like this one"."""

    def __init__(
        self,
        names: Sequence[str],
        vectors: np.ndarray,
        categories: Sequence[Sequence[str]],
        tech_stack: Sequence[Sequence[str]],
    ) -> None:
        self.names = list(names)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(vectors) else 1.0
        self.vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        self.categories = [list(labels) for labels in categories]
        self.tech_stack = [list(labels) for labels in tech_stack]
        self._position = {name.lower(): i for i, name in enumerate(self.names)}

    def position(self, full_name: str) -> int:
        """The row of a project (name compared without case)."""
        found = self._position.get(full_name.lower())
        if found is None:
            raise UnknownProjectError(
                f"no embedding stored for {full_name!r}", close_matches(full_name, self.names)
            )
        return found

    def similar(self, full_name: str, limit: int) -> list[SimilarProject]:
        """The `limit` projects closest to `full_name`, most similar first (ties by name)."""
        me = self.position(full_name)
        cosines = self.vectors @ self.vectors[me]
        cosines[me] = -np.inf
        count = min(limit, len(self.names) - 1)
        if count <= 0:
            return []
        # A partial sort finds the cut-off; everything tied with it joins the final sort, so
        # ties go to the name that sorts first without ordering the whole catalogue.
        kth = np.partition(cosines, len(cosines) - count)[len(cosines) - count]
        near = np.nonzero(cosines >= kth)[0]
        names = np.asarray([self.names[i] for i in near.tolist()], dtype=object)
        order = near[np.lexsort((names, -cosines[near]))][:count]
        mine_categories, mine_tech = set(self.categories[me]), set(self.tech_stack[me])
        return [
            SimilarProject(
                full_name=self.names[i],
                similarity=float(cosines[i]),
                shared_categories=sorted(mine_categories & set(self.categories[i])),
                shared_tech_stack=sorted(mine_tech & set(self.tech_stack[i])),
            )
            for i in order.tolist()
        ]


def load_project_vectors(warehouse: Warehouse) -> ProjectVectors:
    """The hybrid embeddings of every project, as `project_hybrid_embeddings` stores them."""
    table = warehouse.query(
        "SELECT project_full_name, embedding, categories, tech_stack "
        f"FROM {c.PROJECT_HYBRID_EMBEDDINGS} ORDER BY project_full_name"
    )
    column = table.column("embedding")
    dimensions = len(column[0]) if len(column) else 1
    vectors = matrix_from_arrow(column, dimensions)
    return ProjectVectors(
        table.column("project_full_name").to_pylist(),
        vectors,
        [labels or [] for labels in table.column("categories").to_pylist()],
        [labels or [] for labels in table.column("tech_stack").to_pylist()],
    )

"""The scorer's inputs: the feature dataclasses, and reading them from the warehouse.

Each fact is read from the table that owns it: the projects' semantic vectors from
`project_semantic_embeddings`, their labels, popularity and filter attributes from
`dbt_project_enriched_data`, the users' semantic vectors, labels and known projects from the dbt
scoring model (which takes the vectors from `user_embeddings.semantic_embedding`). The hybrid
vectors are never read here: their blocks are scaled by the content weights, so slicing the
semantic part out of them would tie the main score to those weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from octorec import constants as c
from octorec.features import interaction_matrix, unit_rows
from octorec.scoring.candidates import candidate_masks
from octorec.settings import Settings
from octorec.warehouse import Warehouse, matrix_from_arrow


@dataclass(frozen=True)
class ProjectFeatures:
    """Everything the scorer knows about the candidate projects, row-aligned."""

    names: Sequence[str]
    semantic: np.ndarray
    categories: Sequence[Sequence[str]]
    tech_stack: Sequence[Sequence[str]]
    popularity: np.ndarray
    eligible: np.ndarray | None = None
    """Which projects pass the candidate filters (all when None)."""
    active: np.ndarray | None = None
    """Which projects count as active for users without any signal (all when None)."""
    languages: Sequence[str | None] | None = None
    """Each project's main language (None where unknown; all unknown when None)."""
    pushed_at: Sequence[datetime | None] | None = None
    """Each project's last push (None where unknown; all unknown when None)."""

    def mask(self, values: np.ndarray | None) -> np.ndarray:
        """`values` as a boolean mask over the projects, all true when None."""
        if values is None:
            return np.ones(len(self.names), dtype=bool)
        return np.asarray(values, dtype=bool)

    def subset(self, index: np.ndarray, semantic: np.ndarray) -> ProjectFeatures:
        """The projects at `index` (in that order) with the given semantic vectors."""
        rows = index.tolist()
        return ProjectFeatures(
            names=[self.names[i] for i in rows],
            semantic=semantic,
            categories=[self.categories[i] for i in rows],
            tech_stack=[self.tech_stack[i] for i in rows],
            popularity=np.asarray(self.popularity)[index],
            eligible=None if self.eligible is None else np.asarray(self.eligible)[index],
            active=None if self.active is None else np.asarray(self.active)[index],
            languages=None if self.languages is None else [self.languages[i] for i in rows],
            pushed_at=None if self.pushed_at is None else [self.pushed_at[i] for i in rows],
        )


@dataclass(frozen=True)
class UserFeatures:
    """Everything the scorer knows about the users, row-aligned.

    `known` is a users × projects 0/1 matrix of projects the user starred, owns or liked; they
    are never recommended. `dismissed` (same shape, or None for none) holds the projects the user
    dismissed: never recommended either, but no evidence of interest.
    """

    logins: Sequence[str]
    semantic: np.ndarray
    categories: Sequence[Sequence[str]]
    tech_stack: Sequence[Sequence[str]]
    known: sp.csr_matrix
    dismissed: sp.csr_matrix | None = None

    def never_recommended(self) -> sp.csr_matrix:
        """Users × projects, non-zero where a project may not be recommended to a user: known
        or dismissed."""
        if self.dismissed is None or not self.dismissed.nnz:
            return self.known
        blocked = (self.known + self.dismissed).tocsr()
        blocked.sum_duplicates()
        return blocked

    def knows_nothing(self) -> np.ndarray:
        """Users who have starred or own no catalogue project."""
        return np.diff(self.known.indptr) == 0

    def without_signal(self) -> np.ndarray:
        """Users who know no project and have no profile vector, categories or tech stack."""
        knows_nothing = self.knows_nothing()
        no_vector = ~np.any(self.semantic != 0, axis=1)
        no_labels = np.array(
            [not c and not t for c, t in zip(self.categories, self.tech_stack, strict=True)],
            dtype=bool,
        )
        return knows_nothing & no_vector & no_labels


def load_features(warehouse: Warehouse, settings: Settings) -> tuple[UserFeatures, ProjectFeatures]:
    """The scorer's inputs: every user from the dbt scoring model and every embedded project
    (a user shard reads the vectors in chunks instead: `octorec.scoring.chunked`)."""
    projects = load_catalogue(warehouse, settings)
    users = read_users(warehouse, settings)
    return user_features(users, projects.names, settings.model_dimensions), projects


def load_catalogue(warehouse: Warehouse, settings: Settings) -> ProjectFeatures:
    """Every embedded project with its semantic vectors: what scoring and the ranker's
    training score against."""
    catalogue = read_catalogue(warehouse, settings)
    return catalogue.subset(
        np.arange(len(catalogue.names)), read_semantic(warehouse, settings, catalogue.names)
    )


CATALOGUE_COLUMNS = (
    "e.full_name AS project_full_name, e.categories, e.tech_stack, e.popularity, "
    "e.language, e.is_fork, e.is_archived, e.pushed_at"
)
CATALOGUE_SOURCE = (
    f"{c.DBT_PROJECT_ENRICHED_DATA} AS e "
    f"INNER JOIN {c.PROJECT_SEMANTIC_EMBEDDINGS} AS s ON s.project_full_name = e.full_name"
)


def read_catalogue(warehouse: Warehouse, settings: Settings) -> ProjectFeatures:
    """Every embedded project's labels, popularity and candidate masks, in byte order of their
    names, without vectors (`semantic` has no columns): read once per run.

    Push ages are measured from the newest push of the whole catalogue.
    """
    projects = warehouse.query(f"SELECT {CATALOGUE_COLUMNS} FROM {CATALOGUE_SOURCE}")
    projects = projects.sort_by("project_full_name")  # byte order on every backend
    masks = candidate_masks(
        projects.column("language").to_pylist(),
        projects.column("is_fork").to_pylist(),
        projects.column("is_archived").to_pylist(),
        projects.column("pushed_at").to_pylist(),
        settings.filters,
    )
    return ProjectFeatures(
        names=projects.column("project_full_name").to_pylist(),
        semantic=np.zeros((projects.num_rows, 0), dtype=np.float32),
        categories=projects.column("categories").to_pylist(),
        tech_stack=projects.column("tech_stack").to_pylist(),
        popularity=np.asarray(projects.column("popularity").to_pylist(), dtype=np.float32),
        eligible=masks.eligible,
        active=masks.active,
        languages=projects.column("language").to_pylist(),
        pushed_at=projects.column("pushed_at").to_pylist(),
    )


def read_semantic(warehouse: Warehouse, settings: Settings, names: Sequence[str]) -> np.ndarray:
    """The unit-length semantic vectors of the projects `names` (sorted, all embedded), in that
    order, from `project_semantic_embeddings`."""
    wanted = pa.table({"name": pa.array(list(names), pa.string())})
    with warehouse.staged("_octorec_projects", wanted):
        rows = warehouse.query(
            f"SELECT s.project_full_name, s.embedding FROM {c.PROJECT_SEMANTIC_EMBEDDINGS} AS s "
            "INNER JOIN _octorec_projects AS w ON w.name = s.project_full_name"
        ).sort_by("project_full_name")
    found = rows.column("project_full_name").to_pylist()
    if found != list(names):
        missing = sorted(set(names) - set(found))[:3]
        raise ValueError(
            f"{c.PROJECT_SEMANTIC_EMBEDDINGS} lacks vectors for {len(names) - len(found)} "
            f"projects (first: {missing}); run the embeddings again"
        )
    return unit_rows(matrix_from_arrow(rows.column("embedding"), settings.model_dimensions))


def read_users(
    warehouse: Warehouse, settings: Settings, shard: int = 0, shards: int = 1
) -> pa.Table:
    """The rows of the users of `shard` (all with one shard), in byte order of their logins."""
    condition, params = warehouse.shard_condition("user_login", shard, shards)
    return warehouse.query(
        "SELECT user_login, categories, tech_stack, known_projects, dismissed_projects, "
        "semantic_embedding "
        f"FROM {c.DBT_USER_PROJECT_SIMILARITIES} WHERE {condition}",
        params,
    ).sort_by("user_login")


def user_features(users: pa.Table, catalogue: Sequence[str], dimensions: int) -> UserFeatures:
    """`read_users` rows as scorer input, their known and dismissed projects as columns of
    `catalogue` (those outside it left out)."""
    column = {n: i for i, n in enumerate(catalogue)}
    return UserFeatures(
        logins=users.column("user_login").to_pylist(),
        semantic=unit_rows(matrix_from_arrow(users.column("semantic_embedding"), dimensions)),
        categories=users.column("categories").to_pylist(),
        tech_stack=users.column("tech_stack").to_pylist(),
        known=interaction_matrix(users.column("known_projects").to_pylist(), column),
        dismissed=interaction_matrix(users.column("dismissed_projects").to_pylist(), column),
    )


def everyones_interactions(warehouse: Warehouse, names: Sequence[str]) -> sp.csr_matrix:
    """All users' known projects as a users × `names` 0/1 matrix: what the item-item model
    learns from when only one shard of users is scored (their vectors are not read)."""
    known = warehouse.query(
        f"SELECT user_login, known_projects FROM {c.DBT_USER_PROJECT_SIMILARITIES}"
    ).sort_by("user_login")
    return interaction_matrix(
        known.column("known_projects").to_pylist(), {n: i for i, n in enumerate(names)}
    )

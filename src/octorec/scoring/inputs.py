"""Reading the scorer's inputs from the warehouse: projects, users, everyone's interactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from octorec import constants as c
from octorec.embeddings.hybrid import HybridLayout, semantic_part
from octorec.embeddings.projects import hybrid_layout
from octorec.embeddings.users import interaction_matrix
from octorec.scoring.candidates import candidate_masks
from octorec.scoring.similarity import ProjectFeatures, UserFeatures
from octorec.settings import Settings
from octorec.warehouse import Warehouse, matrix_from_arrow


def load_features(warehouse: Warehouse, settings: Settings) -> tuple[UserFeatures, ProjectFeatures]:
    """The scorer's inputs: every user from the dbt scoring model, every project from the
    hybrid table (a user shard reads them in chunks instead: `octorec.scoring.chunked`)."""
    projects = read_projects(warehouse, settings)
    users = read_users(warehouse, settings)
    return user_features(users, projects.names, hybrid_layout(warehouse, settings)), projects


PROJECT_COLUMNS = (
    "h.project_full_name, h.categories, h.tech_stack, h.popularity, h.embedding, "
    "e.language, e.is_fork, e.is_archived, e.pushed_at"
)
PROJECT_SOURCE = (
    f"{c.PROJECT_HYBRID_EMBEDDINGS} AS h "
    f"LEFT JOIN {c.DBT_PROJECT_ENRICHED_DATA} AS e ON e.full_name = h.project_full_name"
)


def read_projects(
    warehouse: Warehouse,
    settings: Settings,
    names: Sequence[str] | None = None,
    newest_push: datetime | None = None,
) -> ProjectFeatures:
    """Every project's features (or those of `names`), in byte order of their names.

    `newest_push` is the catalogue's newest push, which the candidate filters measure push
    ages from (by default the newest of the projects read: right when they are all of them).
    """
    layout = hybrid_layout(warehouse, settings)
    if names is None:
        projects = warehouse.query(f"SELECT {PROJECT_COLUMNS} FROM {PROJECT_SOURCE}")
    else:
        wanted = pa.table({"name": pa.array(list(names), pa.string())})
        with warehouse.staged("_octorec_projects", wanted):
            projects = warehouse.query(
                f"SELECT {PROJECT_COLUMNS} FROM {PROJECT_SOURCE} "
                "INNER JOIN _octorec_projects AS w ON w.name = h.project_full_name"
            )
    projects = projects.sort_by("project_full_name")  # byte order on every backend
    masks = candidate_masks(
        projects.column("language").to_pylist(),
        projects.column("is_fork").to_pylist(),
        projects.column("is_archived").to_pylist(),
        projects.column("pushed_at").to_pylist(),
        settings.filters,
        newest=newest_push,
    )
    return ProjectFeatures(
        names=projects.column("project_full_name").to_pylist(),
        semantic=semantic_part(
            matrix_from_arrow(projects.column("embedding"), layout.dimensions), layout
        ),
        categories=projects.column("categories").to_pylist(),
        tech_stack=projects.column("tech_stack").to_pylist(),
        popularity=np.asarray(projects.column("popularity").to_pylist(), dtype=np.float32),
        eligible=masks.eligible,
        active=masks.active,
    )


def read_users(
    warehouse: Warehouse, settings: Settings, shard: int = 0, shards: int = 1
) -> pa.Table:
    """The rows of the users of `shard` (all with one shard), in byte order of their logins."""
    condition, params = warehouse.shard_condition("user_login", shard, shards)
    return warehouse.query(
        "SELECT user_login, categories, tech_stack, known_projects, embedding "
        f"FROM {c.DBT_USER_PROJECT_SIMILARITIES} WHERE {condition}",
        params,
    ).sort_by("user_login")


def user_features(users: pa.Table, catalogue: Sequence[str], layout: HybridLayout) -> UserFeatures:
    """`read_users` rows as scorer input, their known projects as columns of `catalogue`
    (those outside it left out)."""
    return UserFeatures(
        logins=users.column("user_login").to_pylist(),
        semantic=semantic_part(
            matrix_from_arrow(users.column("embedding"), layout.dimensions), layout
        ),
        categories=users.column("categories").to_pylist(),
        tech_stack=users.column("tech_stack").to_pylist(),
        known=interaction_matrix(
            users.column("known_projects").to_pylist(), {n: i for i, n in enumerate(catalogue)}
        ),
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

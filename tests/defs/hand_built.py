"""Tables that dbt builds in the pipeline, built by hand for tests that call assets directly."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from octorec import constants as c
from octorec.embeddings.cache import content_hash
from octorec.warehouse import Warehouse, open_warehouse


def create_scoring_users(warehouse: Warehouse) -> None:
    """`dbt_user_project_similarities` as its model selects it (dbt/models/marts), from the
    `dbt_user_embeddings_data` and `user_embeddings` tables already in `warehouse`."""
    warehouse.execute(
        f"CREATE TABLE {c.DBT_USER_PROJECT_SIMILARITIES} AS SELECT d.user_login, e.embedding, "
        "e.semantic_embedding, "
        "d.categories, d.tech_stack, d.known_projects, d.dismissed_projects, d.profile_basis, "
        "d.declared_categories, d.declared_tech_stack, "
        "e.semantic_basis "
        f"FROM {c.DBT_USER_EMBEDDINGS_DATA} AS d "
        f"INNER JOIN {c.USER_EMBEDDINGS} AS e ON e.user_login = d.user_login"
    )


DIMENSIONS = 384
NOW = datetime(2026, 11, 1, tzinfo=UTC)
# Two neighbourhoods of the semantic space: each user knows one project of theirs, and the
# other project of the same neighbourhood (same category and stack) is their best match.
PROJECTS = {
    "a/sql-engine": (0, 0.0, ["databases"], ["Python"]),
    "a/sql-index": (0, 0.3, ["databases"], ["Python"]),
    "b/recipes": (2, 0.0, ["cooking"], ["Go"]),
    "b/pastry": (2, 0.3, ["cooking"], ["Go"]),
}
KNOWS = {"alice": "a/sql-engine", "bob": "b/recipes"}
BEST = {"alice": "a/sql-index", "bob": "b/pastry"}


def vector(axis: int, tilt: float) -> list[float]:
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    vector[axis], vector[axis + 1] = 1.0, tilt
    return (vector / np.linalg.norm(vector)).tolist()


def create(warehouse: Warehouse, table: str, columns: str, rows: pa.Table) -> None:
    """A table dbt would build, made by hand with the columns the assets read."""
    warehouse.execute(f"CREATE TABLE {table} ({columns})")
    warehouse.replace(table, rows)


def fill_projects(database: Path, *, with_semantic: bool) -> None:
    with open_warehouse(database) as warehouse:
        create(
            warehouse,
            c.TAXONOMY_CATEGORIES,
            "category VARCHAR",
            pa.table({"category": ["cooking", "databases"]}),
        )
        create(
            warehouse,
            c.TAXONOMY_TECH_STACK,
            "tech_stack VARCHAR",
            pa.table({"tech_stack": ["Go", "Python"]}),
        )
        names = list(PROJECTS)
        texts = [f"{name}: {' '.join(PROJECTS[name][2])}" for name in names]
        create(
            warehouse,
            c.DBT_PROJECT_ENRICHED_DATA,
            "full_name VARCHAR, embedding_text VARCHAR, content_hash VARCHAR, "
            "categories VARCHAR[], tech_stack VARCHAR[], popularity DOUBLE, language VARCHAR, "
            "is_fork BOOLEAN, is_archived BOOLEAN, pushed_at TIMESTAMPTZ",
            pa.table(
                {
                    "full_name": names,
                    "embedding_text": texts,
                    "content_hash": [content_hash(t) for t in texts],
                    "categories": [PROJECTS[n][2] for n in names],
                    "tech_stack": [PROJECTS[n][3] for n in names],
                    "popularity": [0.5] * len(names),
                    "language": [PROJECTS[n][3][0] for n in names],
                    "is_fork": [False] * len(names),
                    "is_archived": [False] * len(names),
                    "pushed_at": [NOW] * len(names),
                }
            ),
        )
        if with_semantic:
            warehouse.replace(
                c.PROJECT_SEMANTIC_EMBEDDINGS,
                pa.table(
                    {
                        "project_full_name": names,
                        "content_hash": [content_hash(t) for t in texts],
                        "model": ["hand-made"] * len(names),
                        "embedding": [vector(*PROJECTS[n][:2]) for n in names],
                        "run_id": ["by-hand"] * len(names),
                        "computed_at": [NOW] * len(names),
                    }
                ),
            )


def fill_users(database: Path, dismissed: dict[str, list[str]] | None = None) -> None:
    with open_warehouse(database) as warehouse:
        logins = list(KNOWS)
        create(
            warehouse,
            c.DBT_USER_EMBEDDINGS_DATA,
            "user_login VARCHAR, profile_text VARCHAR, categories VARCHAR[], "
            "tech_stack VARCHAR[], known_projects VARCHAR[], mean_popularity DOUBLE, "
            "profile_basis VARCHAR, declared_categories VARCHAR[], declared_tech_stack VARCHAR[], "
            "dismissed_projects VARCHAR[]",
            pa.table(
                {
                    "user_login": logins,
                    "profile_text": pa.array([None, None], pa.string()),
                    "categories": [PROJECTS[KNOWS[u]][2] for u in logins],
                    "tech_stack": [PROJECTS[KNOWS[u]][3] for u in logins],
                    "known_projects": [[KNOWS[u]] for u in logins],
                    "mean_popularity": [0.5, 0.5],
                    "profile_basis": ["interactions", "interactions"],
                    "declared_categories": pa.array([[], []], pa.list_(pa.string())),
                    "declared_tech_stack": pa.array([[], []], pa.list_(pa.string())),
                    "dismissed_projects": [(dismissed or {}).get(u, []) for u in logins],
                }
            ),
        )

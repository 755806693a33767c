"""A warehouse over the 125,000-project scale catalogue, for serving benchmarks at that size.

The world is `scale_world.py`'s (the real repositories of `../shared/data/scale/repos_125k.csv`,
embedded once with `octorec embed`, synthetic users). Its tables are written as the pipeline's
steps would leave them: the catalogue (`dbt_project_enriched_data`), the semantic and hybrid
embeddings, the users' scorer input (`dbt_user_project_similarities`), and the stored
recommendations, scored by the pipeline's own `score_all` in ANN mode. The hybrid table holds
the semantic vectors (the benchmark never asks for similar projects at this size).

`data/bench/scale-<projects>x<users>.duckdb`; built once, kept.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from scale_world import CACHE, world

RUN_ID = "scale-bench"


def scale_database(projects: int = 125_000, users: int = 20_000) -> Path:
    """The warehouse path (built now unless it exists)."""
    path = CACHE / f"scale-{projects}x{users}.duckdb"
    if path.exists():
        return path
    from octorec import constants as c
    from octorec.scoring.store import publish, score_all
    from octorec.settings import load_settings
    from octorec.warehouse import open_warehouse, vectors_to_arrow

    user_features, project_features = world(users, projects)
    names = list(project_features.names)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    vectors = vectors_to_arrow(np.asarray(project_features.semantic, dtype=np.float32))
    building = path.with_suffix(".building.duckdb")
    building.unlink(missing_ok=True)
    with open_warehouse(building) as warehouse:
        warehouse.replace(
            c.PROJECT_SEMANTIC_EMBEDDINGS,
            pa.table(
                {
                    "project_full_name": names,
                    "content_hash": [f"h{i}" for i in range(len(names))],
                    "model": ["bench"] * len(names),
                    "embedding": vectors,
                    "run_id": [RUN_ID] * len(names),
                    "computed_at": [now] * len(names),
                }
            ),
        )
        warehouse.replace(
            c.PROJECT_HYBRID_EMBEDDINGS,
            pa.table(
                {
                    "project_full_name": names,
                    "categories": pa.array(project_features.categories, pa.list_(pa.string())),
                    "tech_stack": pa.array(project_features.tech_stack, pa.list_(pa.string())),
                    "popularity": np.asarray(project_features.popularity, dtype=np.float64),
                    "embedding": vectors,
                    "run_id": [RUN_ID] * len(names),
                    "computed_at": [now] * len(names),
                }
            ),
        )
    known = user_features.known.tocsr()
    catalogue = pa.table(
        {
            "full_name": names,
            "description": [None] * len(names),
            "language": [None] * len(names),
            "stars": np.zeros(len(names), dtype=np.int64),
            "topics": pa.array([[] for _ in names], pa.list_(pa.string())),
            "categories": pa.array(project_features.categories, pa.list_(pa.string())),
            "tech_stack": pa.array(project_features.tech_stack, pa.list_(pa.string())),
            "popularity": np.asarray(project_features.popularity, dtype=np.float64),
            "is_fork": [False] * len(names),
            "is_archived": [False] * len(names),
            "pushed_at": [now - timedelta(days=i % 300) for i in range(len(names))],
        }
    )
    scored_users = pa.table(
        {
            "user_login": list(user_features.logins),
            "categories": pa.array(user_features.categories, pa.list_(pa.string())),
            "tech_stack": pa.array(user_features.tech_stack, pa.list_(pa.string())),
            "known_projects": pa.array(
                [
                    [names[j] for j in known.indices[known.indptr[i] : known.indptr[i + 1]]]
                    for i in range(known.shape[0])
                ],
                pa.list_(pa.string()),
            ),
            "semantic_embedding": vectors_to_arrow(
                np.asarray(user_features.semantic, dtype=np.float32)
            ),
        }
    )
    with duckdb.connect(str(building)) as connection:
        connection.register("catalogue_rows", catalogue)
        connection.execute(
            f"CREATE TABLE {c.DBT_PROJECT_ENRICHED_DATA} AS SELECT * FROM catalogue_rows"
        )
        connection.register("user_rows", scored_users)
        connection.execute(
            f"CREATE TABLE {c.DBT_USER_PROJECT_SIMILARITIES} AS SELECT * FROM user_rows"
        )
    os.environ["RECOMMENDATION_RETRIEVAL"] = "ann"
    settings = load_settings()
    with open_warehouse(building) as warehouse:
        summary = score_all(warehouse, settings, RUN_ID)
        publish(warehouse, summary.table)
    building.rename(path)
    return path


if __name__ == "__main__":
    print(scale_database())

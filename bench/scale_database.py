"""A warehouse over the 125,000-project scale catalogue, for serving benchmarks at that size.

The world is `scale_world.py`'s (the real repositories of `../shared/data/scale/repos_125k.csv`,
synthetic users), with the texts' model embeddings when `scale_world.py` has cached them
(`octorec embed`, about four minutes on a quiet 2-core machine) and otherwise hashed
bag-of-words vectors (each word a fixed random direction, a text the unit sum of its words':
projects that share words are close, enough structure for the index's cells; built in seconds).
Latency does not depend on which: the same shapes and the same work per request. Its tables
are written as the pipeline's steps would leave them: the catalogue
(`dbt_project_enriched_data`), the semantic and hybrid embeddings, the users' scorer input
(`dbt_user_project_similarities`), and the stored recommendations, scored by the pipeline's
own `score_all` in ANN mode. The hybrid table holds the semantic vectors (the benchmark never
asks for similar projects at this size).

`data/bench/scale-<projects>x<users>-<model|hashed>.duckdb`; built once, kept.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from scale_world import CACHE, REPOS, labels, read_repositories, synthesise_users

RUN_ID = "scale-bench"


DIMENSIONS = 384
WORD_SEED = 7


def hashed_vectors(texts: list[str], dimensions: int = DIMENSIONS) -> np.ndarray:
    """Unit bag-of-words vectors: each distinct word a seeded random direction."""
    import re

    import scipy.sparse as sp

    words: dict[str, int] = {}
    rows, columns = [], []
    for row, text in enumerate(texts):
        for word in set(re.findall(r"[a-z0-9+#]{2,}", text.lower())):
            rows.append(row)
            columns.append(words.setdefault(word, len(words)))
    counts = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(len(texts), len(words))
    )
    directions = np.random.default_rng(WORD_SEED).normal(size=(len(words), dimensions))
    vectors = np.asarray(counts @ directions.astype(np.float32), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def _world(users: int, projects: int) -> tuple[Any, Any, str]:
    import hashlib

    from octorec.scoring.inputs import ProjectFeatures

    names, stars, texts = read_repositories(REPOS)
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    cached = CACHE / f"repos-{len(texts)}-{digest}.npy"
    if cached.exists():
        vectors, kind = np.load(cached)[:projects], "model"
    else:
        vectors, kind = hashed_vectors(texts[:projects]), "hashed"
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    names, stars, texts = names[:projects], stars[:projects], texts[:projects]
    categories, tech_stack = labels(texts)
    log_stars = np.log1p(stars)
    project_features = ProjectFeatures(
        names=names,
        semantic=vectors,
        categories=categories,
        tech_stack=tech_stack,
        popularity=(log_stars / log_stars.max()).astype(np.float32),
    )
    user_features = synthesise_users(vectors, stars, categories, tech_stack, users)
    return user_features, project_features, kind


def scale_database(
    projects: int = 125_000, users: int = 20_000, folder: Path = CACHE
) -> tuple[Path, str]:
    """The warehouse path in `folder` (built now unless it exists) and which vectors it holds."""
    for kind in ("model", "hashed"):
        path = folder / f"scale-{projects}x{users}-{kind}.duckdb"
        if path.exists():
            return path, kind
    from octorec import constants as c
    from octorec.scoring.store import publish, score_all
    from octorec.settings import load_settings
    from octorec.warehouse import open_warehouse, vectors_to_arrow

    user_features, project_features, kind = _world(users, projects)
    path = folder / f"scale-{projects}x{users}-{kind}.duckdb"
    names = list(project_features.names)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    vectors = vectors_to_arrow(np.asarray(project_features.semantic, dtype=np.float32))
    folder.mkdir(parents=True, exist_ok=True)
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
            "dismissed_projects": pa.array(
                [[] for _ in user_features.logins], pa.list_(pa.string())
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
    return path, kind


if __name__ == "__main__":
    print(scale_database())

"""Project embeddings: semantic vectors of the project text, then hybrid vectors with features."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from octorec import constants as c
from octorec.embeddings.cache import encode_with_cache
from octorec.embeddings.encoder import TextEncoder
from octorec.embeddings.hybrid import HybridLayout, hybrid_embeddings
from octorec.settings import Settings
from octorec.warehouse import Warehouse, matrix_from_arrow, vectors_to_arrow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SemanticSummary:
    """What one run of the project semantic embeddings did."""

    projects: int
    embedded: int
    reused: int
    seconds: float


@dataclass(frozen=True)
class HybridSummary:
    """What one run of the project hybrid embeddings did."""

    projects: int
    layout: HybridLayout
    seconds: float


def hybrid_layout(warehouse: Warehouse, settings: Settings) -> HybridLayout:
    """The hybrid vector layout: every category and tech-stack entry of the taxonomy seeds."""
    categories = warehouse.query(
        f"SELECT DISTINCT category FROM {c.TAXONOMY_CATEGORIES} ORDER BY category"
    )
    tech_stack = warehouse.query(
        f"SELECT DISTINCT tech_stack FROM {c.TAXONOMY_TECH_STACK} ORDER BY tech_stack"
    )
    return HybridLayout(
        semantic_dimensions=settings.model_dimensions,
        categories=tuple(sorted(categories.column(0).to_pylist())),
        tech_stack=tuple(sorted(tech_stack.column(0).to_pylist())),
    )


def embed_projects(
    warehouse: Warehouse,
    encoder: TextEncoder,
    run_id: str,
    refresh: bool = False,
    shard: int = 0,
    shards: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> SemanticSummary:
    """Embed the enriched projects' texts (reusing cached vectors unless `refresh`) and replace
    the table, or with `shards` above 1, only the rows of the projects in `shard`.

    `on_progress(done, total)` follows the texts being embedded (`encode_with_cache`).
    """
    started = time.perf_counter()
    condition, params = warehouse.shard_condition("full_name", shard, shards)
    projects = warehouse.query(
        f"SELECT full_name, embedding_text, content_hash FROM {c.DBT_PROJECT_ENRICHED_DATA} "
        f"WHERE {condition} ORDER BY full_name",
        params,
    )
    encoding = encode_with_cache(
        warehouse,
        encoder,
        projects.column("embedding_text").to_pylist(),
        projects.column("content_hash").to_pylist(),
        refresh=refresh,
        on_progress=on_progress,
    )
    rows = pa.table(
        {
            "project_full_name": projects.column("full_name"),
            "content_hash": projects.column("content_hash"),
            "model": pa.array([encoder.model_name] * projects.num_rows, pa.string()),
            "embedding": vectors_to_arrow(encoding.vectors),
            "run_id": pa.array([run_id] * projects.num_rows, pa.string()),
            "computed_at": pa.array([datetime.now(UTC)] * projects.num_rows),
        }
    )
    warehouse.replace_shard(c.PROJECT_SEMANTIC_EMBEDDINGS, rows, "project_full_name", shard, shards)
    return SemanticSummary(
        projects=projects.num_rows,
        embedded=encoding.embedded,
        reused=encoding.reused,
        seconds=time.perf_counter() - started,
    )


def build_project_hybrids(
    warehouse: Warehouse, settings: Settings, run_id: str, shard: int = 0, shards: int = 1
) -> HybridSummary:
    """Join each project's semantic vector with its features and replace the hybrid table, or
    with `shards` above 1, only the rows of the projects in `shard`."""
    started = time.perf_counter()
    layout = hybrid_layout(warehouse, settings)
    condition, params = warehouse.shard_condition("e.full_name", shard, shards)
    projects = warehouse.query(
        f"SELECT e.full_name, e.categories, e.tech_stack, e.popularity, s.embedding "
        f"FROM {c.DBT_PROJECT_ENRICHED_DATA} AS e "
        f"INNER JOIN {c.PROJECT_SEMANTIC_EMBEDDINGS} AS s ON s.project_full_name = e.full_name "
        f"WHERE {condition} ORDER BY e.full_name",
        params,
    )
    semantic = matrix_from_arrow(projects.column("embedding"), settings.model_dimensions)
    popularity = np.asarray(projects.column("popularity").to_pylist(), dtype=np.float32)
    vectors = hybrid_embeddings(
        semantic,
        projects.column("categories").to_pylist(),
        projects.column("tech_stack").to_pylist(),
        popularity,
        layout,
        settings.content_weights.as_scoring_weights(),
    )
    rows = pa.table(
        {
            "project_full_name": projects.column("full_name"),
            "categories": projects.column("categories"),
            "tech_stack": projects.column("tech_stack"),
            "popularity": projects.column("popularity"),
            "embedding": vectors_to_arrow(vectors),
            "run_id": pa.array([run_id] * projects.num_rows, pa.string()),
            "computed_at": pa.array([datetime.now(UTC)] * projects.num_rows),
        }
    )
    warehouse.replace_shard(c.PROJECT_HYBRID_EMBEDDINGS, rows, "project_full_name", shard, shards)
    return HybridSummary(
        projects=projects.num_rows, layout=layout, seconds=time.perf_counter() - started
    )

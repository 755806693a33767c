"""Benchmark: loading the sample data and writing pipeline results, PostgreSQL against DuckDB.

Both backends run the same code in the same run: the raw upsert of the sample snapshot (6,279
repositories, 20,204 stars), 6,279 × 384 embedding vectors replaced in one transaction, and the
recommendation table replaced. PostgreSQL is a throwaway local server (initdb on loopback,
fsync off), so the figures measure octorec's loading path, not disk durability. Prints JSON.

    python bench/warehouse_write.py [--snapshot DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from machine import describe_machine
from octorec import constants as c
from octorec.ingestion import store_source_data
from octorec.sources.snapshot import SnapshotSource
from octorec.testing.postgres import postgres_server
from octorec.warehouse import open_warehouse, vectors_to_arrow

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "github-sample"


def _timed(action) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    return round(time.perf_counter() - started, 3)


def measure(location: str | Path, snapshot: Path) -> dict[str, float]:
    data = SnapshotSource(snapshot).fetch()
    names = [r.full_name for r in data.repositories]
    vectors = np.random.default_rng(0).normal(size=(len(names), 384)).astype(np.float32)
    now = datetime.now(UTC)
    embeddings = pa.table(
        {
            "project_full_name": names,
            "content_hash": [f"{i:032x}" for i in range(len(names))],
            "model": ["bench"] * len(names),
            "embedding": vectors_to_arrow(vectors),
            "run_id": ["bench"] * len(names),
            "computed_at": [now] * len(names),
        }
    )
    rows = 65 * 5
    results = pa.table(
        {
            "user_login": [f"u{i // 5}" for i in range(rows)],
            "project_full_name": names[:rows],
            "rank": pa.array([i % 5 + 1 for i in range(rows)], pa.int32()),
            **{
                name: [0.5] * rows
                for name in (
                    "score",
                    "semantic_similarity",
                    "category_similarity",
                    "tech_stack_similarity",
                    "popularity_similarity",
                )
            },
            "matched_categories": pa.array([["ai-ml"]] * rows, pa.list_(pa.string())),
            "matched_tech_stack": pa.array([["Python"]] * rows, pa.list_(pa.string())),
            "run_id": ["bench"] * rows,
            "computed_at": [now] * rows,
        }
    )
    with open_warehouse(location) as warehouse:
        load = _timed(lambda: store_source_data(warehouse, data))
        reload = _timed(lambda: store_source_data(warehouse, data))
        vectors_seconds = _timed(
            lambda: warehouse.replace(c.PROJECT_SEMANTIC_EMBEDDINGS, embeddings)
        )
        results_seconds = _timed(lambda: warehouse.replace(c.USER_PROJECT_SIMILARITIES, results))
    return {
        "load_sample_seconds": load,
        "reload_sample_seconds": reload,
        "write_embeddings_seconds": vectors_seconds,
        "write_results_seconds": results_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, default=SAMPLE)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        duckdb = measure(Path(directory) / "bench.duckdb", args.snapshot)
    with postgres_server() as (url, _):
        postgres = measure(url, args.snapshot)
    print(
        json.dumps(
            {
                "benchmark": "warehouse_write",
                "duckdb": duckdb,
                "postgres": postgres,
                "postgres_over_duckdb": {
                    key: round(postgres[key] / duckdb[key], 2) if duckdb[key] else None
                    for key in duckdb
                },
                "machine": describe_machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

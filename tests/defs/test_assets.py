"""Asset functions called directly, as Dagster's own examples test them: a context from
`dg.build_asset_context()`, the real `OctorecResource` on a temporary DuckDB file filled with a
few hand-made rows, and the `MaterializeResult` and stored rows checked against known answers."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from octorec import constants as c
from octorec.defs.embeddings import (
    embedding_progress,
    project_hybrid_embeddings,
    project_semantic_embeddings,
    user_embeddings,
)
from octorec.defs.resources import OctorecResource
from octorec.defs.similarities import user_project_similarities
from octorec.embeddings.cache import content_hash
from octorec.warehouse import Warehouse, open_warehouse
from tests.defs.hand_built import create_scoring_users

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


def _vector(axis: int, tilt: float) -> list[float]:
    vector = np.zeros(DIMENSIONS, dtype=np.float32)
    vector[axis], vector[axis + 1] = 1.0, tilt
    return (vector / np.linalg.norm(vector)).tolist()


def _create(warehouse: Warehouse, table: str, columns: str, rows: pa.Table) -> None:
    """A table dbt would build, made by hand with the columns the assets read."""
    warehouse.execute(f"CREATE TABLE {table} ({columns})")
    warehouse.replace(table, rows)


@pytest.fixture
def octorec(monkeypatch: pytest.MonkeyPatch, database: Path) -> Iterator[OctorecResource]:
    """The resource on a fresh DuckDB file, set up (settings read, run lock held) like a run's."""
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    with dg.build_resources({"octorec": OctorecResource()}) as resources:
        yield resources.octorec


def _fill_projects(database: Path, *, with_semantic: bool) -> None:
    with open_warehouse(database) as warehouse:
        _create(
            warehouse,
            c.TAXONOMY_CATEGORIES,
            "category VARCHAR",
            pa.table({"category": ["cooking", "databases"]}),
        )
        _create(
            warehouse,
            c.TAXONOMY_TECH_STACK,
            "tech_stack VARCHAR",
            pa.table({"tech_stack": ["Go", "Python"]}),
        )
        names = list(PROJECTS)
        texts = [f"{name}: {' '.join(PROJECTS[name][2])}" for name in names]
        _create(
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
                        "embedding": [_vector(*PROJECTS[n][:2]) for n in names],
                        "run_id": ["by-hand"] * len(names),
                        "computed_at": [NOW] * len(names),
                    }
                ),
            )


def _fill_users(database: Path, dismissed: dict[str, list[str]] | None = None) -> None:
    with open_warehouse(database) as warehouse:
        logins = list(KNOWS)
        _create(
            warehouse,
            c.DBT_USER_EMBEDDINGS_DATA,
            "user_login VARCHAR, profile_text VARCHAR, categories VARCHAR[], "
            "tech_stack VARCHAR[], known_projects VARCHAR[], mean_popularity DOUBLE, "
            "profile_basis VARCHAR, dismissed_projects VARCHAR[]",
            pa.table(
                {
                    "user_login": logins,
                    "profile_text": pa.array([None, None], pa.string()),
                    "categories": [PROJECTS[KNOWS[u]][2] for u in logins],
                    "tech_stack": [PROJECTS[KNOWS[u]][3] for u in logins],
                    "known_projects": [[KNOWS[u]] for u in logins],
                    "mean_popularity": [0.5, 0.5],
                    "profile_basis": ["interactions", "interactions"],
                    "dismissed_projects": [(dismissed or {}).get(u, []) for u in logins],
                }
            ),
        )


def _values(result: dg.MaterializeResult) -> dict:
    return {key: getattr(value, "value", value) for key, value in (result.metadata or {}).items()}


def test_the_scoring_asset_recommends_each_user_the_neighbour_of_what_they_know(
    octorec: OctorecResource, database: Path
) -> None:
    _fill_projects(database, with_semantic=True)
    _fill_users(database)
    context = dg.build_asset_context()

    hybrids = _values(project_hybrid_embeddings(context, octorec))
    assert hybrids["dagster/row_count"] == len(PROJECTS)
    assert hybrids["layout"] == {
        "semantic": DIMENSIONS,
        "categories": 2,
        "tech_stack": 2,
        "popularity": 1,
        "total": DIMENSIONS + 5,
    }
    users = _values(user_embeddings(context, octorec))
    assert users["dagster/row_count"] == 2
    assert users["semantic_basis"] == {"interactions": 2}
    assert users["embedded"] == users["reused_from_cache"] == 0  # no profile text to embed
    with open_warehouse(database) as warehouse:
        create_scoring_users(warehouse)

    result = user_project_similarities(context, octorec)

    metadata = _values(result)
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            f"SELECT user_login, rank, project_full_name, score, matched_categories "
            f"FROM {c.USER_PROJECT_SIMILARITIES} ORDER BY user_login, rank"
        ).to_pylist()
    assert metadata["dagster/row_count"] == len(rows) > 0
    assert metadata["users"] == metadata["users_with_recommendations"] == 2
    assert metadata["projects"] == len(PROJECTS)
    firsts = {row["user_login"]: row for row in rows if row["rank"] == 1}
    assert {login: row["project_full_name"] for login, row in firsts.items()} == BEST
    for row in rows:
        assert row["project_full_name"] != KNOWS[row["user_login"]]  # never what they know
    assert firsts["alice"]["matched_categories"] == ["databases"]
    assert f"| alice | 1 | {BEST['alice']} |" in metadata["sample"]
    assert "| users with recommendations | 2 of 2 | 100.0% |" in metadata["coverage"]
    assert metadata["mean_score"] == pytest.approx(
        round(sum(r["score"] for r in rows) / len(rows), 4)
    )


def test_the_scoring_asset_never_recommends_what_a_user_dismissed(
    octorec: OctorecResource, database: Path
) -> None:
    _fill_projects(database, with_semantic=True)
    _fill_users(database, dismissed={"bob": [BEST["bob"]]})
    context = dg.build_asset_context()
    project_hybrid_embeddings(context, octorec)
    user_embeddings(context, octorec)
    with open_warehouse(database) as warehouse:
        create_scoring_users(warehouse)
    user_project_similarities(context, octorec)
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            f"SELECT user_login, project_full_name FROM {c.USER_PROJECT_SIMILARITIES} "
            "ORDER BY user_login, rank"
        ).to_pylist()
    recommended = {
        login: [r["project_full_name"] for r in rows if r["user_login"] == login] for login in KNOWS
    }
    assert recommended["alice"][0] == BEST["alice"]  # the other user is untouched
    # Bob's best match (the test above) is gone; nothing else of his passes the minimum score.
    assert BEST["bob"] not in recommended["bob"] and KNOWS["bob"] not in recommended["bob"]


@pytest.mark.slow
def test_the_semantic_asset_embeds_new_texts_reuses_cached_ones_and_force_recomputes(
    octorec: OctorecResource, database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill_projects(database, with_semantic=False)
    context = dg.build_asset_context()

    first = _values(project_semantic_embeddings(context, octorec))
    again = _values(project_semantic_embeddings(context, octorec))
    # A resource used outside a run reads the settings itself (and takes no run lock, which
    # the fixture's holds).
    forced = _values(project_semantic_embeddings(context, OctorecResource(force=True)))

    assert (first["dagster/row_count"], first["embedded"], first["reused_from_cache"]) == (4, 4, 0)
    assert (again["embedded"], again["reused_from_cache"]) == (0, 4)
    assert (forced["embedded"], forced["reused_from_cache"]) == (4, 0)
    assert first["dimensions"] == DIMENSIONS and first["model"] == c.MODEL_NAME
    with open_warehouse(database, read_only=True) as warehouse:
        stored = warehouse.query(
            f"SELECT project_full_name, embedding FROM {c.PROJECT_SEMANTIC_EMBEDDINGS} "
            "ORDER BY project_full_name"
        ).to_pylist()
    vectors = {row["project_full_name"]: np.asarray(row["embedding"]) for row in stored}
    assert set(vectors) == set(PROJECTS)
    for vector in vectors.values():
        assert vector.shape == (DIMENSIONS,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    # The real model puts the two database projects closer to each other than to a cooking one.
    sql = vectors["a/sql-engine"] @ vectors["a/sql-index"]
    assert sql > vectors["a/sql-engine"] @ vectors["b/recipes"]


def test_embedding_progress_logs_at_most_every_interval_and_always_the_end() -> None:
    lines: list[str] = []
    report = embedding_progress(lines.append, "texts", every=3600)
    for done in (0, 32, 64, 96):
        report(done, 100)
    assert lines == []  # within the interval, and not done yet
    report(100, 100)
    assert len(lines) == 1 and lines[0].startswith("embedded 100 of 100 texts (")
    assert lines[0].endswith(" texts/s)")

    every_time: list[str] = []
    report = embedding_progress(every_time.append, "project texts", every=0)
    report(0, 6279)
    report(1024, 6279)
    assert every_time[0] == "embedded 0 of 6,279 project texts"
    assert every_time[1].startswith("embedded 1,024 of 6,279 project texts (")

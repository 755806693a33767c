"""Asset functions called directly, as Dagster's own examples test them: a context from
`dg.build_asset_context()`, the real `OctorecResource` on a temporary DuckDB file filled with a
few hand-made rows, and the `MaterializeResult` and stored rows checked against known answers."""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
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
from octorec.warehouse import open_warehouse
from tests.defs.hand_built import (
    BEST,
    DIMENSIONS,
    KNOWS,
    PROJECTS,
    create_scoring_users,
    fill_projects,
    fill_users,
)


@pytest.fixture
def octorec(monkeypatch: pytest.MonkeyPatch, database: Path) -> Iterator[OctorecResource]:
    """The resource on a fresh DuckDB file, set up (settings read, run lock held) like a run's."""
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    with dg.build_resources({"octorec": OctorecResource()}) as resources:
        yield resources.octorec


def _values(result: dg.MaterializeResult) -> dict:
    return {key: getattr(value, "value", value) for key, value in (result.metadata or {}).items()}


def test_the_scoring_asset_recommends_each_user_the_neighbour_of_what_they_know(
    octorec: OctorecResource, database: Path
) -> None:
    fill_projects(database, with_semantic=True)
    fill_users(database)
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
    fill_projects(database, with_semantic=True)
    fill_users(database, dismissed={"bob": [BEST["bob"]]})
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
    fill_projects(database, with_semantic=False)
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

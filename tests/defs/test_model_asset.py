"""The `recommendation_model` asset called directly: the fallback on tiny data, a fitted model
stored and used by scoring, unchanged inputs kept, a failed fit keeping the model in use."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from octorec import constants as c
from octorec.defs.embeddings import project_hybrid_embeddings, user_embeddings
from octorec.defs.model import recommendation_model
from octorec.defs.resources import OctorecResource
from octorec.defs.similarities import user_project_similarities
from octorec.warehouse import open_warehouse
from octorec.warehouse.ranking_models import latest_model
from tests.defs.hand_built import BEST, create_scoring_users, fill_projects, fill_users


def _values(result: dg.MaterializeResult) -> dict:
    return {key: getattr(value, "value", value) for key, value in (result.metadata or {}).items()}


@pytest.fixture
def octorec(monkeypatch: pytest.MonkeyPatch, database: Path) -> Iterator[OctorecResource]:
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    with dg.build_resources({"octorec": OctorecResource()}) as resources:
        yield resources.octorec


def test_tiny_data_stores_a_fallback_and_scoring_uses_the_formula(
    octorec: OctorecResource, database: Path
) -> None:
    fill_projects(database, with_semantic=True)
    fill_users(database)
    context = dg.build_asset_context()
    project_hybrid_embeddings(context, octorec)
    user_embeddings(context, octorec)
    with open_warehouse(database) as warehouse:
        create_scoring_users(warehouse)

    metadata = _values(recommendation_model(context, octorec))

    assert metadata["fallback"] is True and metadata["kind"] == "formula"
    assert "RANKER_MIN_USERS" in metadata["reason"]
    with open_warehouse(database, read_only=True) as warehouse:
        stored = latest_model(warehouse)
    assert stored is not None and stored.is_fallback and stored.reason == metadata["reason"]

    user_project_similarities(context, octorec)
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            f"SELECT user_login, rank, project_full_name, score, formula_score, model_version "
            f"FROM {c.USER_PROJECT_SIMILARITIES} ORDER BY user_login, rank"
        ).to_pylist()
    assert {r["user_login"]: r["project_full_name"] for r in rows if r["rank"] == 1} == BEST
    assert all(r["model_version"] is None for r in rows)
    assert all(r["formula_score"] == r["score"] for r in rows)


@pytest.fixture
def sample_copy(pipeline_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample slice's pipeline result, with thresholds low enough for its few
    users to fit a model."""
    database, _, code, _, err = pipeline_run
    assert code == 0, err
    copy = tmp_path / "octorec.duckdb"
    shutil.copy(database, copy)
    monkeypatch.setenv("OCTOREC_DATABASE", str(copy))
    monkeypatch.setenv("RANKER_MIN_USERS", "3")
    monkeypatch.setenv("RANKER_MIN_POSITIVES", "5")
    return copy


def _resource() -> Iterator[OctorecResource]:
    with dg.build_resources({"octorec": OctorecResource()}) as resources:
        yield resources.octorec


@pytest.mark.slow
def test_a_fitted_model_is_stored_with_its_metrics_and_ranks_the_stored_recommendations(
    sample_copy: Path,
) -> None:
    context = dg.build_asset_context()
    octorec = next(_resource())

    metadata = _values(recommendation_model(context, octorec))

    assert metadata["fallback"] is False, metadata["reason"]
    with open_warehouse(sample_copy, read_only=True) as warehouse:
        stored = latest_model(warehouse)
    assert stored is not None and stored.version == metadata["model_version"]
    assert stored.training_fingerprint and stored.settings["seed"] == 42
    for model in ("ranker", "formula", "popularity", "ease"):
        assert 0 <= stored.metrics[model]["ndcg@10"] <= 1
        assert f"| ndcg@10 | {model} |" in metadata["validation_plot"]

    user_project_similarities(context, octorec)
    with open_warehouse(sample_copy, read_only=True) as warehouse:
        rows = warehouse.query(
            f"SELECT user_login, rank, score, formula_score, model_version, reason "
            f"FROM {c.USER_PROJECT_SIMILARITIES} ORDER BY user_login, rank"
        ).to_pylist()
    assert rows and {r["model_version"] for r in rows} == {stored.version}
    floor = octorec.settings().min_similarity
    for row in rows:
        assert 0 <= row["score"] <= 1 and row["formula_score"] >= floor and row["reason"]
    by_user: dict[str, list[float]] = {}
    for row in rows:
        by_user.setdefault(row["user_login"], []).append(row["score"])
    assert all(scores == sorted(scores, reverse=True) for scores in by_user.values())

    # Unchanged inputs: the stored model is kept, not refitted.
    again = _values(recommendation_model(context, next(_resource())))
    assert again["model_version"] == stored.version and "unchanged_since_run" in again


@pytest.mark.slow
def test_a_fit_that_fails_keeps_the_model_in_use(
    sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = dg.build_asset_context()
    recommendation_model(context, next(_resource()))
    with open_warehouse(sample_copy, read_only=True) as warehouse:
        before = latest_model(warehouse)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the fit ran out of memory")

    monkeypatch.setattr("octorec.ranker.pipeline.train_model", broken)
    monkeypatch.setenv("RANKER_HOLDOUT", "0.3")  # other inputs: the asset must fit again
    with pytest.raises(RuntimeError, match="out of memory"):
        recommendation_model(context, next(_resource()))

    with open_warehouse(sample_copy, read_only=True) as warehouse:
        assert latest_model(warehouse) == before

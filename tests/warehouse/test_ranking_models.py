"""The stored ranking models: round trip on both backends, the newest wins, a rerun replaces."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from octorec.warehouse import open_warehouse
from octorec.warehouse.ranking_models import FALLBACK, StoredModel, latest_model, save_model


@pytest.fixture(params=["duckdb", "postgres"])
def location(request: pytest.FixtureRequest, database: Path) -> str | Path:
    if request.param == "duckdb":
        return database
    return request.getfixturevalue("postgres_url")


def _stored(run_id: str, when: datetime, model: str | None = "tree text") -> StoredModel:
    return StoredModel(
        run_id=run_id,
        version=f"v-{run_id}",
        kind="lightgbm_xendcg" if model else FALLBACK,
        training_fingerprint="abc",
        settings={"seed": 42, "weights": {"semantic": 0.25}},
        metrics={"validation": {"ranker": {"ndcg@10": 0.21}}},
        model=model,
        reason="fitted" if model else "only 3 users with 5 stars or more (10 needed)",
        fit_seconds=1.5,
        fitted_at=when,
    )


def test_the_newest_model_is_read_back_whole(location: str | Path) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with open_warehouse(location) as warehouse:
        assert latest_model(warehouse) is None
        save_model(warehouse, _stored("run-1", start))
        save_model(warehouse, _stored("run-2", start + timedelta(hours=1), model=None))
        newest = latest_model(warehouse)
    assert newest == _stored("run-2", start + timedelta(hours=1), model=None)
    assert newest is not None and newest.is_fallback


def test_a_retried_run_replaces_its_own_row(location: str | Path) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with open_warehouse(location) as warehouse:
        save_model(warehouse, _stored("run-1", start, model="first"))
        save_model(warehouse, _stored("run-1", start + timedelta(minutes=5), model="second"))
        assert warehouse.count("recommendation_models") == 1
        newest = latest_model(warehouse)
    assert newest is not None and newest.model == "second"

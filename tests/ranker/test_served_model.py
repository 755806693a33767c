"""Which stored model request-time scoring ranks with: the one the served rows came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from octorec.constants import USER_PROJECT_SIMILARITIES
from octorec.ranker.model import Calibration, RankingModel
from octorec.ranker.pipeline import served_ranking_model, stored_ranking_model
from octorec.scoring.registry import COMPONENTS
from octorec.warehouse import open_warehouse
from octorec.warehouse.ranking_models import FALLBACK, StoredModel, save_model


def _model(text: str) -> RankingModel:
    return RankingModel(
        model_text=text,
        calibration=Calibration(slope=1.0, intercept=0.0),
        collaborative_regularization=100.0,
        candidates_per_signal=10,
        training_fingerprint="f",
    )


def _save(warehouse, run_id: str, when: datetime, model: RankingModel | None) -> None:
    save_model(
        warehouse,
        StoredModel(
            run_id=run_id,
            version=model.version if model else FALLBACK,
            kind="lightgbm_lambdarank" if model else FALLBACK,
            training_fingerprint="f",
            settings={},
            metrics={},
            model=model.to_json() if model else None,
            reason="fitted" if model else "too few users",
            fit_seconds=1.0,
            fitted_at=when,
        ),
    )


def _results(warehouse, version: str | None) -> None:
    warehouse.replace(
        USER_PROJECT_SIMILARITIES,
        pa.table(
            {
                "user_login": ["ann", "ann"],
                "project_full_name": ["a/x", "b/y"],
                "rank": pa.array([1, 2], pa.int32()),
                "score": [0.9, 0.8],
                **{f"{name}_similarity": [0.5, 0.4] for name in COMPONENTS},
                "matched_categories": pa.array([[], []], pa.list_(pa.string())),
                "matched_tech_stack": pa.array([[], []], pa.list_(pa.string())),
                "similar_known_project": pa.array([None, None], pa.string()),
                "reason": ["popular", "popular"],
                "model_version": pa.array([version, version], pa.string()),
                "run_id": ["run-1", "run-1"],
                "computed_at": [datetime.now(UTC)] * 2,
            }
        ),
    )


def test_scoring_ranks_with_the_model_the_served_rows_were_ranked_with(database: Path) -> None:
    first, second = _model("first trees"), _model("second trees")
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with open_warehouse(database) as warehouse:
        _save(warehouse, "run-1", start, first)
        assert served_ranking_model(warehouse) == first  # no results yet: the newest
        _results(warehouse, first.version)
        # A newer fit whose scoring failed: the served rows are still the first model's.
        _save(warehouse, "run-2", start + timedelta(hours=1), second)
        assert stored_ranking_model(warehouse) == second
        assert served_ranking_model(warehouse) == first
        _results(warehouse, None)  # ranked by the formula
        assert served_ranking_model(warehouse) is None
        _results(warehouse, "0123456789abcdef")  # a model no longer stored
        assert served_ranking_model(warehouse) == second

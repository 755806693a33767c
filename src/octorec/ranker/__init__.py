"""The learned ranker: candidates from each signal (stage 1), a LightGBM listwise ranking
model (`rank_xendcg`) over (user, candidate) pair features (stage 2), cross-validated over
hold-outs of the deployment's own interactions.

The API: `train_model(profiles, projects, settings, seed) -> FitOutcome` (a `RankingModel` or
None and the reason), `RankingModel.to_json()` / `from_json()`, `scorer_settings_for(model, ...)`
for the scorer the model ranks with, `CatalogueStats.from_run(known, projects)` and
`rank(scorer, model, stats, top_n, min_score) -> RankedRecommendations` (with per-component
contributions and `reasons`).
"""

from __future__ import annotations

from octorec.ranker.features import FEATURE_COMPONENTS, FEATURE_NAMES
from octorec.ranker.model import Calibration, RankingModel
from octorec.ranker.ranking import RankedRecommendations, rank
from octorec.ranker.statistics import CatalogueStats
from octorec.ranker.training import FitOutcome, train_model
from octorec.settings import ScorerSettings


def scorer_settings_for(model: RankingModel, settings: ScorerSettings) -> ScorerSettings:
    """`settings` with the collaborative λ the model was fitted with."""
    return settings.model_copy(
        update={"collaborative_regularization": model.collaborative_regularization}
    )


__all__ = [
    "FEATURE_COMPONENTS",
    "FEATURE_NAMES",
    "Calibration",
    "CatalogueStats",
    "FitOutcome",
    "RankedRecommendations",
    "RankingModel",
    "rank",
    "scorer_settings_for",
    "train_model",
]

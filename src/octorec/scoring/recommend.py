"""`recommend`: build the scorer for a run and let the recommender that
`RECOMMENDATION_RETRIEVAL` names (exact or ann) find each user's best projects."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from octorec.scoring.ann import AnnRecommender, IndexCache
from octorec.scoring.collaborative import ItemItemModel
from octorec.scoring.exact import ExactRecommender
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.recommender import Recommender
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.results import Recommendations
from octorec.scoring.scorer import Scorer, Weights
from octorec.settings import Retrieval, ScorerSettings

logger = logging.getLogger(__name__)


def recommender_for(scorer: Scorer, indexes: IndexCache | None = None) -> Recommender:
    """The recommender `scorer.settings.retrieval` names (ANN: with the `indexes` kept for
    this catalogue, when given)."""
    if scorer.settings.retrieval == Retrieval.ANN:
        return AnnRecommender(scorer, indexes)
    return ExactRecommender(scorer)


def recommend(
    users: UserFeatures,
    projects: ProjectFeatures,
    weights: Weights,
    top_n: int,
    min_score: float,
    scorer_settings: ScorerSettings | None = None,
    cold_start_weights: Weights | None = None,
    item_item: ItemItemModel | None = None,
    prepared: Mapping[str, Any] | None = None,
    indexes: IndexCache | None = None,
) -> Recommendations:
    """Score users against projects and keep each user's best `top_n` above `min_score`.

    `RECOMMENDATION_RETRIEVAL=exact` (default) scores every user against every project in blocks
    of users sized to `RECOMMENDATION_BLOCK_MEMORY_MB`, so memory grows with the block, never
    with users × projects; `ann` rescores only the candidates of an approximate index.
    `item_item` is a model fitted already over these projects (scoring a chunk of a shard's
    catalogue with the model fitted on everyone's interactions). `prepared` and `indexes` are
    the catalogue's state kept by a `ScoringContext` (`octorec.scoring.context`).
    """
    started = time.perf_counter()
    scorer = Scorer(
        users,
        projects,
        scorer_settings,
        with_collaborative=COMPONENTS.weights(weights).get("collaborative", 0.0) > 0,
        item_item=item_item,
        prepared=prepared,
    )
    result = recommender_for(scorer, indexes).recommend(
        weights, top_n, min_score, cold_start_weights
    )
    logger.log(
        logging.DEBUG if len(users.logins) <= 1 else logging.INFO,
        "scored %d users × %d projects (%s) in %.2f s, kept %d recommendations",
        len(users.logins),
        len(projects.names),
        scorer.settings.retrieval,
        time.perf_counter() - started,
        len(result),
    )
    return result

"""The ranker in the pipeline: fit it on the warehouse's users, store it, load it for scoring.

`fit_and_store` is what the `recommendation_model` asset runs: the stored users' profiles (their
known projects, declared labels and profile-text vectors) and the embedded catalogue go to
`train_model`; the outcome (a model, or the reason there is none) is stored in
`recommendation_models` only once everything about it is known, so a failed fit leaves the
previous model in use. `stored_ranking_model` is what scoring reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from octorec import constants as c
from octorec.embeddings.encoder import TextEncoder
from octorec.ranker import CatalogueStats, RankedRecommendations, rank, scorer_settings_for
from octorec.ranker.features import PairCatalogue
from octorec.ranker.inputs import read_profiles
from octorec.ranker.model import RankingModel
from octorec.ranker.training import FitOutcome, train_model
from octorec.scoring.collaborative import ItemItemModel
from octorec.scoring.inputs import ProjectFeatures, UserFeatures, load_catalogue
from octorec.scoring.scorer import Scorer
from octorec.settings import ScoringWeights, Settings
from octorec.warehouse import Warehouse, WarehouseError
from octorec.warehouse.ranking_models import FALLBACK, StoredModel, latest_model, save_model

logger = logging.getLogger(__name__)

KIND = "lightgbm_xendcg"
"""The `kind` of a stored fitted model."""


@dataclass(frozen=True)
class FittedRun:
    """What one `recommendation_model` run fitted (or why it fitted nothing), and stored."""

    stored: StoredModel
    outcome: FitOutcome
    users: int
    projects: int


def fit_model(
    warehouse: Warehouse, settings: Settings, encoder: TextEncoder, run_id: str
) -> FittedRun:
    """Fit the ranker on the warehouse's current users and catalogue; stores nothing."""
    started = time.perf_counter()
    profiles = read_profiles(warehouse, encoder)
    projects = load_catalogue(warehouse, settings)
    if not settings.ranker.enabled:
        outcome = FitOutcome(None, "RANKER_ENABLED=0: scoring with the formula's weights")
    else:
        outcome = train_model(profiles, projects, settings, seed=settings.ranker.seed)
    model = outcome.model
    stored = StoredModel(
        run_id=run_id,
        version=model.version if model is not None else FALLBACK,
        kind=KIND if model is not None else FALLBACK,
        training_fingerprint=model.training_fingerprint if model is not None else "",
        settings=model.settings
        if model is not None
        else {"ranker": settings.ranker.model_dump(), "weights": settings.weights.model_dump()},
        metrics=dict(outcome.metrics),
        model=model.to_json() if model is not None else None,
        reason=outcome.reason,
        fit_seconds=round(time.perf_counter() - started, 3),
        fitted_at=datetime.now(UTC),
    )
    return FittedRun(stored, outcome, len(profiles), len(projects.names))


def store_model(warehouse: Warehouse, fitted: FittedRun) -> None:
    """Store a fit's outcome; scoring uses it from now on."""
    save_model(warehouse, fitted.stored)


def stored_ranking_model(warehouse: Warehouse) -> RankingModel | None:
    """The model scoring ranks with: the newest stored one, None when the newest row is a
    fallback (or none was ever fitted): scoring then uses the formula's weights."""
    stored = latest_model(warehouse)
    if stored is None or stored.model is None:
        return None
    return RankingModel.from_json(stored.model)


def served_ranking_model(warehouse: Warehouse) -> RankingModel | None:
    """The model the stored recommendations were ranked with (their `model_version`), which
    request-time scoring must rank with too: after a fit whose scoring step then failed, the
    newest model is not the one the served rows came from. None when the formula ranked them;
    the newest model (`stored_ranking_model`) when no stored row says which."""
    try:
        versions = (
            warehouse.query(f"SELECT DISTINCT model_version FROM {c.USER_PROJECT_SIMILARITIES}")
            .column("model_version")
            .to_pylist()
        )
    except WarehouseError:  # no results yet, or a table from before the ranker
        return stored_ranking_model(warehouse)
    if len(versions) != 1:  # no rows, or a mixed table: nothing says which one
        return stored_ranking_model(warehouse)
    if versions[0] is None:
        return None
    rows = warehouse.query(
        f"SELECT model FROM {c.RECOMMENDATION_MODELS} WHERE version = ? AND model IS NOT NULL "
        "ORDER BY fitted_at DESC LIMIT 1",
        [versions[0]],
    ).to_pylist()
    if not rows:
        logger.warning(
            "the stored recommendations were ranked with model %s, which is not stored; "
            "scoring with the newest model",
            versions[0],
        )
        return stored_ranking_model(warehouse)
    return RankingModel.from_json(rows[0]["model"])


def rank_with_model(
    users: UserFeatures,
    projects: ProjectFeatures,
    settings: Settings,
    model: RankingModel,
    stats: CatalogueStats,
    *,
    top_n: int,
    item_item: ItemItemModel | None = None,
    prepared: Mapping[str, Any] | None = None,
    catalogue: PairCatalogue | None = None,
    cold_start_weights: ScoringWeights | None = None,
) -> tuple[RankedRecommendations, Scorer]:
    """Each user's best `top_n` by the learned ranker, among the candidates whose normalised
    formula score reaches the threshold; and the scorer (with the model's λ) for their reasons.

    `stats` are the run's catalogue statistics (everyone's interactions, not only `users`');
    `item_item` the collaborative model fitted on everyone with the model's λ
    (`scorer_settings_for`); `catalogue` the pair features' catalogue side and
    `cold_start_weights` `settings.content_weights` as score weights, when the caller keeps
    them (a `ScoringContext`)."""
    started = time.perf_counter()
    scorer = Scorer(
        users,
        projects,
        scorer_settings_for(model, settings.scorer),
        item_item=item_item,
        prepared=prepared,
    )
    ranked = rank(
        scorer,
        model,
        stats,
        top_n,
        settings.min_similarity,
        weights=settings.weights,
        cold_start_weights=cold_start_weights
        if cold_start_weights is not None
        else settings.content_weights.as_scoring_weights(),
        catalogue=catalogue,
    )
    logger.info(
        "ranked %d users × %d projects with model %s in %.2f s, kept %d recommendations",
        len(users.logins),
        len(projects.names),
        model.version,
        time.perf_counter() - started,
        len(ranked),
    )
    return ranked, scorer

"""`octorec evaluate`: hold out interactions, rebuild with the pipeline, compare the models.

1. Read the snapshot files with the pipeline's loader (bad rows are reported, not dropped
   silently), and hold out a seeded fraction of each user's interactions (the test split).
2. Carve a validation split out of the training interactions the same way. On it, and only on
   it, fit octorec's weights (`octorec_fitted`) and pick the baselines' settings.
3. Rebuild the features from the training interactions with the pipeline's own steps and rank
   the whole catalogue with every model; score the rankings against the test split.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from octorec.evaluation.metrics import (
    catalogue_coverage,
    evaluate_rankings,
    intra_list_diversity,
    novelty,
    per_user_values,
)
from octorec.evaluation.models import (
    als_scores,
    component_matrices,
    item_knn_scores,
    popularity_scores,
    semantic_scores,
    top_lists,
    weighted_total,
)
from octorec.evaluation.pipeline import EvaluationWarehouse
from octorec.evaluation.report import EvaluationReport, MultiSeedReport
from octorec.evaluation.split import HoldoutSplit, holdout_split
from octorec.evaluation.tuning import RelevanceTarget, fit_weights, pick_best
from octorec.ranker import CatalogueStats, FitOutcome, rank, scorer_settings_for, train_model
from octorec.ranker.folds import owns
from octorec.scoring.collaborative import fit_item_item
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.profiles import Profile
from octorec.scoring.scorer import Scorer
from octorec.settings import ORIGIN_WEIGHTS, ScoringWeights, Settings
from octorec.sources.base import SourceData
from octorec.sources.snapshot import SnapshotSource

logger = logging.getLogger(__name__)

ALS_FACTORS = (16, 32, 64)
SHRINKAGES = (0.0, 10.0, 30.0, 100.0, 300.0)
KNN_NEIGHBOURS = (20, 50, 100, 200)
OCTOREC_MODELS = ("octorec", "octorec_formula", "octorec_fitted", "origin")
"""The models the score floor `RECOMMENDATION_MIN_SIMILARITY` applies to (the ranker applies it
itself, to the candidates' normalised formula scores)."""


@dataclass(frozen=True)
class EvaluationOptions:
    """How to split and what to report."""

    holdout: float = 0.2
    seed: int = 42
    ks: tuple[int, ...] = (5, 10)
    min_interactions: int = 5
    weight_step: float = 0.2
    validation_folds: int = 3
    users: str = "all"
    """Which users the data was restricted to (`octorec.evaluation.subsets`), for the report."""


def read_snapshot(repos: Path, stars: Path, users: Path | None) -> SourceData:
    """The files, read and validated by the pipeline's snapshot loader."""
    source = SnapshotSource.from_files(repos, stars, users)
    source.check_available()
    data = next(iter(source.batches()))
    for row in data.rejected[:20]:
        logger.warning(
            "rejected %s:%d %s: %s", row.source_file, row.line_number, row.field, row.reason
        )
    return data


def _pairs(split: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    return [(user, project) for user, projects in split.items() for project in projects]


@dataclass(frozen=True)
class _Fold:
    users: UserFeatures
    projects: ProjectFeatures
    scorer: Scorer
    components: dict[str, np.ndarray]
    target: RelevanceTarget


def _fold(scratch: EvaluationWarehouse, split: HoldoutSplit, settings: Settings) -> _Fold:
    """A split's features and components, the collaborative one without shrinkage (each model
    applies its own: `_shrunk`)."""
    users, projects = scratch.features_for(_pairs(split.train))
    unshrunk = settings.scorer.model_copy(update={"collaborative_shrinkage": 0.0})
    scorer = Scorer(users, projects, unshrunk)
    row_of = {login.lower(): i for i, login in enumerate(users.logins)}
    held_out = {row_of[u]: items for u, items in split.test.items() if u in row_of}
    target = RelevanceTarget.build(held_out, projects.names, scorer.excluded(0, len(users.logins)))
    return _Fold(users, projects, scorer, component_matrices(scorer), target)


def _shrunk(fold: _Fold, shrinkage: float) -> dict[str, np.ndarray]:
    """The fold's components with the collaborative one scaled by each user's confidence."""
    components = dict(fold.components)
    if fold.scorer.item_item is not None:
        confidence = fold.scorer.item_item.confidence(fold.users.known, shrinkage)
        components["collaborative"] = components["collaborative"] * confidence[:, None]
    return components


def _with_threshold(scores: np.ndarray, excluded: np.ndarray, minimum: float) -> np.ndarray:
    return excluded | (scores < minimum)


def evaluate(
    data: SourceData,
    settings: Settings,
    options: EvaluationOptions | None = None,
    database: Path | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Evaluate every model on a seeded hold-out split of `data`'s interactions."""
    options = options or EvaluationOptions()
    say = on_phase or (lambda message: logger.info("%s", message))
    say("preparing the projects with the pipeline's dbt models and embeddings")
    scratch = EvaluationWarehouse(data, settings, database or settings.evaluation_database)
    scratch.prepare_projects()
    return _evaluate_split(scratch, options, say)


def evaluate_seeds(
    data: SourceData,
    settings: Settings,
    seeds: Sequence[int],
    options: EvaluationOptions | None = None,
    database: Path | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> MultiSeedReport:
    """Evaluate every model on one hold-out split per seed; the projects are prepared (and
    embedded) once for all of them."""
    options = options or EvaluationOptions()
    say = on_phase or (lambda message: logger.info("%s", message))
    say("preparing the projects with the pipeline's dbt models and embeddings")
    scratch = EvaluationWarehouse(data, settings, database or settings.evaluation_database)
    scratch.prepare_projects()
    reports = {}
    for seed in seeds:
        say(f"seed {seed}")
        reports[seed] = _evaluate_split(scratch, replace(options, seed=seed), say)
    return MultiSeedReport(reports)


def _evaluate_split(
    scratch: EvaluationWarehouse, options: EvaluationOptions, say: Callable[[str], None]
) -> EvaluationReport:
    data, settings = scratch.data, scratch.settings
    started = time.perf_counter()
    k = max(options.ks)
    interactions = [(i.user_login.lower(), i.repo_full_name.lower()) for i in data.interactions]
    split = holdout_split(interactions, options.holdout, options.seed, options.min_interactions)
    folds: list[_Fold] = []
    for number in range(1, options.validation_folds + 1):
        validation = holdout_split(
            _pairs(split.train), options.holdout, options.seed + number, options.min_interactions
        )
        say(f"validation fold {number}: rebuilding features from the pipeline")
        folds.append(_fold(scratch, validation, settings))
    targets = [fold.target for fold in folds]
    shrunk = {(i, b): _shrunk(fold, b) for i, fold in enumerate(folds) for b in SHRINKAGES}
    fitted = fit_weights(
        lambda weights, i, b: weighted_total(folds[i].scorer, shrunk[i, b], weights),
        targets,
        k,
        options.weight_step,
        SHRINKAGES,
    )
    say(
        f"fitted weights {fitted.weights.model_dump()} and shrinkage {fitted.shrinkage:g} "
        f"(validation recall@{k} {fitted.validation_recall:.4f}, ndcg@{k} "
        f"{fitted.validation_ndcg:.4f}, {fitted.candidates} candidates)"
    )
    factors, _ = pick_best(
        {f: [als_scores(x.users.known, f, options.seed) for x in folds] for f in ALS_FACTORS},
        targets,
        k,
    )
    neighbours, _ = pick_best(
        {n: [item_knn_scores(x.users.known, n) for x in folds] for n in KNN_NEIGHBOURS},
        targets,
        k,
    )

    say("test split: rebuilding features from the pipeline")
    test = _fold(scratch, split, settings)
    say("training the ranker on the training part")
    outcome = fit_ranker(scratch, split, test.projects, options.seed)
    say(f"ranker: {outcome.reason} ({outcome.seconds:.1f} s)")
    excluded = test.scorer.excluded(0, len(test.users.logins))
    cold_start = settings.content_weights.as_scoring_weights()
    configured = settings.scorer.collaborative_shrinkage
    origin_components = {**test.components, "semantic": semantic_scores(test.scorer, clip=True)}
    formula = weighted_total(test.scorer, _shrunk(test, configured), settings.weights, cold_start)
    ranker = _ranker_scores(test, outcome, settings, k)
    scores: dict[str, np.ndarray] = {
        "octorec": formula if ranker is None else ranker,
        "octorec_formula": formula,
        "octorec_fitted": weighted_total(
            test.scorer, _shrunk(test, fitted.shrinkage), fitted.weights, cold_start
        ),
        # The original formula: cosine to the user's mean vector, no collaborative term.
        "origin": weighted_total(
            test.scorer, origin_components, ScoringWeights.model_validate(ORIGIN_WEIGHTS)
        ),
    }
    scores["popularity"] = popularity_scores(test.users.known)
    scores["semantic"] = semantic_scores(test.scorer)
    # Each of octorec's two main signals alone: the mean of the top cosines to the user's known
    # projects, and the item-item (EASE) model without the per-user confidence.
    scores["content_knn"] = test.components["semantic"]
    regularization = outcome.collaborative_regularization
    scores["ease"] = (
        test.components["collaborative"]
        if regularization is None
        else fit_item_item(
            test.users.known, regularization, settings.scorer.collaborative_max_items
        ).scores(test.users.known)
    )
    scores["als"] = als_scores(test.users.known, factors, options.seed)
    scores["item_knn"] = item_knn_scores(test.users.known, neighbours)

    logins = [test.users.logins[row] for row in test.target.rows.tolist()]
    held_out = {login: split.test[login.lower()] for login in logins}
    vectors = {
        name.lower(): test.projects.semantic[j] for j, name in enumerate(test.projects.names)
    }
    percentile = _popularity_percentiles(test.projects)
    models: dict[str, dict[str, float]] = {}
    per_user: dict[str, dict[str, list[float]]] = {}
    for name, matrix in scores.items():
        if name == "octorec" and ranker is not None:
            blocked = excluded | ~np.isfinite(matrix)  # the ranker kept what passes its floor
        elif name in OCTOREC_MODELS:
            blocked = _with_threshold(matrix, excluded, settings.min_similarity)
        else:
            blocked = excluded
        lists = top_lists(matrix, blocked, test.target.rows.tolist(), test.projects.names, k)
        recommendations = dict(zip(logins, lists, strict=True))
        metrics = evaluate_rankings(recommendations, held_out, options.ks)
        per_user[name] = per_user_values(recommendations, held_out, options.ks)
        metrics[f"coverage@{k}"] = catalogue_coverage(recommendations, len(test.projects.names), k)
        metrics[f"diversity@{k}"] = float(
            np.mean([intra_list_diversity(r, vectors, k) for r in lists])
        )
        metrics[f"novelty@{k}"] = float(np.mean([novelty(r, percentile, k) for r in lists]))
        models[name] = metrics
    report = EvaluationReport(
        dataset={
            "users": len(logins),
            "repos": len(test.projects.names),
            "test_interactions": sum(len(items) for items in held_out.values()),
            "training_interactions": len(set(interactions)) - split.test_interactions,
            "rejected_rows": len(data.rejected),
        },
        k=list(options.ks),
        models=models,
        per_user=per_user,
        setup={
            "holdout": options.holdout,
            "seed": options.seed,
            "weights": settings.weights.model_dump(),
            "fitted_weights": fitted.weights.model_dump(),
            "shrinkage": configured,
            "fitted_shrinkage": fitted.shrinkage,
            "fitted_validation_recall": round(fitted.validation_recall, 4),
            "fitted_validation_ndcg": round(fitted.validation_ndcg, 4),
            "validation_folds": options.validation_folds,
            "als_factors": factors,
            "item_knn_neighbours": neighbours,
            "users": options.users,
            "ranker": _ranker_setup(outcome),
            "ease_regularization": regularization,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    say(f"evaluated {len(models)} models on {len(logins)} users in {report.setup['seconds']} s")
    return report


def fit_ranker(
    scratch: EvaluationWarehouse, split: HoldoutSplit, projects: ProjectFeatures, seed: int
) -> FitOutcome:
    """The ranker trained as the pipeline trains it, on the users as the scratch warehouse holds
    them now: rebuilt from `split`'s training part (no test star reaches the training, the
    fitting or the candidates; `check_no_leak` makes sure)."""
    profiles = scratch.profiles()
    check_no_leak(profiles, split)
    return train_model(profiles, projects, scratch.settings, seed=seed)


def check_no_leak(profiles: Sequence[Profile], split: HoldoutSplit) -> None:
    """Raise if any held-out (test) star is among what the ranker would train on (a held-out
    star of a project the user owns stays known as owned, in training as in the test)."""
    known = {(p.login.lower(), name.lower()) for p in profiles for name in p.known}
    leaked = [pair for pair in _pairs(split.test) if pair in known and not owns(*pair)]
    if leaked:
        raise RuntimeError(
            f"{len(leaked)} test interactions reached the ranker's training data "
            f"(first: {leaked[0]})"
        )


def _ranker_scores(
    test: _Fold, outcome: FitOutcome, settings: Settings, k: int
) -> np.ndarray | None:
    """The ranker's raw scores of each test user's kept top k (-inf elsewhere), or None when
    no model was fitted."""
    model = outcome.model
    if model is None:
        return None
    scorer = Scorer(test.users, test.projects, scorer_settings_for(model, settings.scorer))
    stats = CatalogueStats.from_run(test.users.known, test.projects)
    ranked = rank(
        scorer,
        model,
        stats,
        k,
        settings.min_similarity,
        weights=settings.weights,
        cold_start_weights=settings.content_weights.as_scoring_weights(),
    )
    matrix = np.full((scorer.user_count, scorer.project_count), -np.inf, dtype=np.float64)
    result = ranked.recommendations
    matrix[result.user_index, result.project_index] = ranked.raw_score
    return matrix


def _ranker_setup(outcome: FitOutcome) -> dict[str, object]:
    """What the report says about the ranker's fit."""
    setup: dict[str, object] = {
        "fitted": outcome.model is not None,
        "reason": outcome.reason,
        "fit_seconds": round(outcome.seconds, 1),
        "validation": outcome.metrics,
    }
    if outcome.model is not None:
        setup["version"] = outcome.model.version
        setup["lightgbm"] = outcome.model.settings["lightgbm"]
        setup["collaborative_regularization"] = outcome.model.collaborative_regularization
    return setup


def _popularity_percentiles(projects: ProjectFeatures) -> dict[str, float]:
    """Each project's popularity as a percentile of the catalogue (0 = least, 1 = most)."""
    popularity = np.asarray(projects.popularity, dtype=np.float64)
    order = popularity.argsort(kind="stable")
    ranks = np.empty(len(popularity))
    ranks[order] = np.arange(len(popularity))
    scale = max(len(popularity) - 1, 1)
    return {name.lower(): float(ranks[j] / scale) for j, name in enumerate(projects.names)}

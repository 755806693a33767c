"""Fitting the learned ranker on the deployment's own interactions: `train_model`.

1. Carve `RANKER_FOLDS` seeded validation hold-outs from the current stars, their hidden stars
   disjoint (`folds.carve_folds`), each user rebuilt from the rest by the pipeline's rules.
2. Fit EASE's λ on them (best mean validation NDCG@10 of the item-item model alone).
3. Build each fold's candidates and pair features; a pair's label is whether it is a held-out
   star.
4. Fit LightGBM's `lambdarank` on every fold but the last, with early stopping on the last,
   over a small grid of leaves × learning rate × minimum leaf size; the best validation NDCG@10
   wins. LightGBM runs deterministic, on a fixed seed and thread count, so the same inputs give
   the same model text.
5. On the last fold, compare the ranker with the formula (the configured weights), popularity
   and EASE over the whole catalogue, and calibrate its score (Platt) into the chance the pair
   is a held-out star.

Too little data (fewer than `RANKER_MIN_USERS` users with `RANKER_MIN_STARS` stars, fewer than
`RANKER_MIN_POSITIVES` held-out stars among the candidates), or a formula that beats the ranker
on both metrics of the validation fold, gives no model and a reason: the caller scores with the
formula's weights.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp

from octorec.ranker.features import FEATURE_NAMES, PairFeaturizer
from octorec.ranker.folds import Fold, carve_folds, stars_of
from octorec.ranker.model import Calibration, RankingModel, fit_calibration
from octorec.ranker.validation import recall_and_ndcg
from octorec.scoring.collaborative import ItemItemModel, fit_item_item
from octorec.scoring.inputs import ProjectFeatures
from octorec.scoring.profiles import Profile
from octorec.scoring.scorer import Scorer
from octorec.settings import Settings

logger = logging.getLogger(__name__)

K = 10
"""The cut-off the ranker is validated and early-stopped at."""
REGULARIZATIONS = (10.0, 30.0, 100.0, 300.0, 1000.0)
"""EASE's λ candidates."""
FORMULA_SCALES = (0.0, 10.0, 30.0)
"""Where boosting starts: `scale ×` the default formula's normalised score (0: from nothing)."""
LEAVES = (7, 15)
LEARNING_RATES = (0.05,)
MIN_CHILD_SAMPLES = (50, 200)
"""The hyper-parameter grid (start × leaves × learning rate × minimum leaf size), chosen on
validation."""
MAX_ROUNDS = 300
EARLY_STOPPING = 20
"""Rounds without a better validation NDCG@10 after which a fit stops (the best is kept)."""
NON_CANDIDATE = -1e9
"""The score of a project that is no candidate, in full-catalogue validation rankings."""


@dataclass(frozen=True)
class FitOutcome:
    """What `train_model` gives: a model, or None and why (the caller then uses the formula)."""

    model: RankingModel | None
    reason: str
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    """Validation recall/NDCG@10 per model (empty when it stopped before validating)."""
    seconds: float = 0.0
    collaborative_regularization: float | None = None
    """EASE's λ fitted on validation (None when it stopped before fitting it)."""


@dataclass(frozen=True)
class _FoldPairs:
    fold: Fold
    user_index: np.ndarray
    project_index: np.ndarray
    features: np.ndarray
    labels: np.ndarray


def training_fingerprint(profiles: Sequence[Profile], projects: ProjectFeatures, seed: int) -> str:
    """A hash of everything the fit reads from the data: users, catalogue, seed."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"seed": seed, "projects": list(projects.names)}).encode())
    digest.update(np.ascontiguousarray(projects.semantic, dtype=np.float32).tobytes())
    for person in sorted(profiles, key=lambda p: p.login):
        facts = [
            person.login,
            sorted(person.known),
            sorted(person.declared_categories),
            sorted(person.declared_tech_stack),
        ]
        digest.update(json.dumps(facts).encode())
        if person.profile_vector is not None:
            digest.update(np.asarray(person.profile_vector, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def train_model(
    profiles: Sequence[Profile],
    projects: ProjectFeatures,
    settings: Settings,
    seed: int = 42,
) -> FitOutcome:
    """Fit the ranker on `profiles` (everyone's current known projects, declared labels and
    profile vectors) against `projects` (with their semantic vectors)."""
    started = time.perf_counter()
    ranker = settings.ranker
    per_user: dict[str, int] = {}
    for login, _ in stars_of(profiles, projects.names):
        per_user[login] = per_user.get(login, 0) + 1
    enough = sum(1 for count in per_user.values() if count >= ranker.min_stars)
    if enough < ranker.min_users:
        return FitOutcome(
            None,
            f"{enough} users have at least {ranker.min_stars} stars and the ranker needs "
            f"{ranker.min_users} (RANKER_MIN_USERS): scoring with the formula's weights",
            seconds=time.perf_counter() - started,
        )
    folds = carve_folds(
        profiles,
        projects,
        settings.scorer,
        settings.user_profile_weight,
        holdout=ranker.holdout,
        folds=ranker.folds,
        seed=seed + 1,
        min_stars=ranker.min_stars,
        with_collaborative=False,
    )
    regularization = fit_regularization(folds)
    scorer_settings = settings.scorer.model_copy(
        update={"collaborative_regularization": regularization}
    )
    folds = [
        Fold(Scorer(f.scorer.users, projects, scorer_settings), f.stats, f.held_out) for f in folds
    ]
    pairs = [_fold_pairs(fold, ranker.candidates_per_signal) for fold in folds]
    training, validation = pairs[:-1], pairs[-1]
    positives = int(sum(p.labels.sum() for p in training))
    if positives < ranker.min_positives or validation.labels.sum() == 0:
        return FitOutcome(
            None,
            f"{positives} held-out stars among the training folds' candidates and "
            f"{int(validation.labels.sum())} in the validation fold's; the ranker needs "
            f"{ranker.min_positives} (RANKER_MIN_POSITIVES) and 1: scoring with the formula's "
            "weights",
            seconds=time.perf_counter() - started,
            collaborative_regularization=regularization,
        )
    train_set = _stack(training)
    booster, chosen, grid = _fit_grid(train_set, _stack([validation]), ranker.threads, seed)
    scale = float(chosen["formula_scale"])
    uncalibrated = RankingModel(
        model_text=booster.model_to_string(),
        calibration=Calibration(1.0, 0.0),
        collaborative_regularization=regularization,
        candidates_per_signal=ranker.candidates_per_signal,
        training_fingerprint="",
        formula_scale=scale,
    )
    fitted = RankingModel(
        model_text=booster.model_to_string(),
        calibration=fit_calibration(
            uncalibrated.raw_scores(validation.features), validation.labels
        ),
        formula_scale=scale,
        collaborative_regularization=regularization,
        candidates_per_signal=ranker.candidates_per_signal,
        training_fingerprint=training_fingerprint(profiles, projects, seed),
    )
    metrics = validation_metrics(validation, fitted, settings)
    # The validation fold chose the rounds and the grid point, so it flatters the ranker: the
    # choice between ranker and formula is made on a fold the chosen fit never saw.
    check = _check_fold_metrics(pairs, chosen, scale, regularization, ranker.threads, seed)
    metrics_check = validation_metrics(pairs[0], check, settings)
    metrics["check_ranker"] = metrics_check["ranker"]
    metrics["check_formula"] = metrics_check["formula"]
    formula, learned = metrics_check["formula"], metrics_check["ranker"]
    seconds = time.perf_counter() - started
    if _formula_wins(formula, learned):
        return FitOutcome(
            None,
            f"the formula beat the ranker on a check fold neither was tuned on (recall@{K} "
            f"{formula[f'recall@{K}']:.4f} vs {learned[f'recall@{K}']:.4f}, NDCG@{K} "
            f"{formula[f'ndcg@{K}']:.4f} vs {learned[f'ndcg@{K}']:.4f}): scoring with the "
            "formula's weights",
            metrics,
            seconds,
            regularization,
        )
    model = RankingModel(
        model_text=fitted.model_text,
        calibration=fitted.calibration,
        formula_scale=scale,
        collaborative_regularization=regularization,
        candidates_per_signal=ranker.candidates_per_signal,
        training_fingerprint=fitted.training_fingerprint,
        settings={
            "ranker": ranker.model_dump(),
            "seed": seed,
            "lightgbm": chosen,
            "grid": grid,
            "collaborative_regularization": regularization,
            "training_pairs": len(train_set[1]),
            "training_positives": positives,
            "validation_pairs": len(validation.labels),
        },
        validation=metrics,
        fit_seconds=round(seconds, 3),
    )
    logger.info(
        "ranker fitted in %.1f s: %s; λ %g; validation %s",
        seconds,
        chosen,
        regularization,
        metrics,
    )
    return FitOutcome(
        model, f"fitted on {len(train_set[1])} candidate pairs", metrics, seconds, regularization
    )


def fit_regularization(folds: Sequence[Fold]) -> float:
    """EASE's λ with the best mean validation NDCG@10 of the item-item model alone (ties to the
    smaller λ)."""
    results: dict[float, float] = {}
    for value in REGULARIZATIONS:
        ndcgs = []
        for fold in folds:
            scorer = fold.scorer
            model = fit_item_item(
                scorer.users.known, value, scorer.settings.collaborative_max_items
            )

            def block(
                start: int,
                stop: int,
                m: ItemItemModel = model,
                known: sp.csr_matrix = scorer.users.known,
            ) -> np.ndarray:
                return m.scores(known[start:stop])

            rows = scorer.block_rows()
            ndcgs.append(recall_and_ndcg(block, scorer.excluded, fold.held_out, K, rows)[1])
        results[value] = float(np.mean(ndcgs))
    best = max(results.values())
    return next(value for value in REGULARIZATIONS if results[value] == best)


def _fold_pairs(fold: Fold, per_signal: int) -> _FoldPairs:
    """Every evaluated user's candidates in the fold, their features and labels."""
    evaluated = np.zeros(fold.scorer.user_count, dtype=bool)
    evaluated[fold.evaluated] = True
    users, projects, features = [], [], []
    for block in PairFeaturizer(fold.scorer, fold.stats, per_signal).blocks():
        keep = evaluated[block.user_index]
        users.append(block.user_index[keep])
        projects.append(block.project_index[keep])
        features.append(block.features[keep])
    user_index = np.concatenate(users) if users else np.zeros(0, np.int64)
    project_index = np.concatenate(projects) if projects else np.zeros(0, np.int64)
    labels = (
        np.asarray(fold.held_out[user_index, project_index]).ravel() > 0
        if len(user_index)
        else np.zeros(0, dtype=bool)
    )
    return _FoldPairs(
        fold,
        user_index,
        project_index,
        np.concatenate(features) if features else np.zeros((0, len(FEATURE_NAMES)), np.float32),
        labels.astype(np.float32),
    )


def _stack(parts: Sequence[_FoldPairs]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and group sizes of the users with a positive, fold after fold."""
    features, labels, groups = [], [], []
    for part in parts:
        users, starts, sizes = np.unique(part.user_index, return_index=True, return_counts=True)
        positive = np.add.reduceat(part.labels, starts) > 0 if len(users) else np.zeros(0, bool)
        keep = np.repeat(positive, sizes)
        features.append(part.features[keep])
        labels.append(part.labels[keep])
        groups.append(sizes[positive])
    return np.concatenate(features), np.concatenate(labels), np.concatenate(groups)


def _formula_wins(formula: dict[str, float], learned: dict[str, float]) -> bool:
    """Whether the formula's recall and NDCG, each relative to the ranker's, sum to more than
    the ranker's (neither metric may be bought with the other)."""
    ratios = [
        formula[name] / learned[name] if learned[name] > 0 else float(formula[name] > 0) + 1.0
        for name in (f"recall@{K}", f"ndcg@{K}")
    ]
    return sum(ratios) > 2.0


def _check_fold_metrics(
    pairs: Sequence[_FoldPairs],
    chosen: dict[str, Any],
    scale: float,
    regularization: float,
    threads: int,
    seed: int,
) -> RankingModel:
    """The chosen grid point and rounds fitted again on every fold but the first, to be
    compared with the formula on the first (which chose nothing)."""
    features, labels, groups = _stack(pairs[1:])
    column = FEATURE_NAMES.index("formula")
    params = _parameters(
        int(chosen["num_leaves"]),
        float(chosen["learning_rate"]),
        int(chosen["min_child_samples"]),
        threads,
        seed,
    )
    train_set = lgb.Dataset(
        features,
        labels,
        group=groups,
        init_score=scale * features[:, column].astype(np.float64),
        feature_name=list(FEATURE_NAMES),
        params={"verbosity": -1, "max_bin": 63},
    )
    booster = lgb.train(params, train_set, num_boost_round=max(1, int(chosen["rounds"])))
    return RankingModel(
        model_text=booster.model_to_string(),
        calibration=Calibration(1.0, 0.0),
        collaborative_regularization=regularization,
        candidates_per_signal=0,
        training_fingerprint="",
        formula_scale=scale,
    )


def _parameters(
    leaves: int, rate: float, min_child: int, threads: int, seed: int
) -> dict[str, Any]:
    return {
        "objective": "lambdarank",
        "metric": "ndcg",
        "eval_at": [K],
        "num_leaves": leaves,
        "learning_rate": rate,
        "min_child_samples": min_child,
        "max_bin": 63,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": threads,
        "seed": seed,
        "verbosity": -1,
    }


def _fit_grid(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray, np.ndarray],
    threads: int,
    seed: int,
) -> tuple[lgb.Booster, dict[str, Any], list[dict[str, Any]]]:
    """The grid's best booster by validation NDCG@10 (ties to the first), its parameters and
    every grid point's result."""
    best: tuple[float, lgb.Booster, dict[str, Any]] | None = None
    grid = []
    column = FEATURE_NAMES.index("formula")
    for scale, leaves, rate, min_child in itertools.product(
        FORMULA_SCALES, LEAVES, LEARNING_RATES, MIN_CHILD_SAMPLES
    ):
        params = _parameters(leaves, rate, min_child, threads, seed)
        train_set = lgb.Dataset(
            train[0],
            train[1],
            group=train[2],
            init_score=scale * train[0][:, column].astype(np.float64),
            feature_name=list(FEATURE_NAMES),
            params={"verbosity": -1, "max_bin": 63},
        )
        valid_set = lgb.Dataset(
            valid[0],
            valid[1],
            group=valid[2],
            init_score=scale * valid[0][:, column].astype(np.float64),
            reference=train_set,
        )
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=MAX_ROUNDS,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False)],
        )
        score = float(booster.best_score["valid_0"][f"ndcg@{K}"])
        point = {
            "formula_scale": scale,
            "num_leaves": leaves,
            "learning_rate": rate,
            "min_child_samples": min_child,
            "rounds": int(booster.best_iteration),
            f"validation_ndcg@{K}": round(score, 6),
        }
        grid.append(point)
        if best is None or score > best[0]:
            best = (score, booster, point)
    assert best is not None
    _, booster, point = best
    final = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    return final, point, grid


def validation_metrics(
    pairs: _FoldPairs, model: RankingModel, settings: Settings
) -> dict[str, dict[str, float]]:
    """Recall/NDCG@10 over the whole catalogue on the validation fold: the ranker, the formula
    (the configured weights), and each single signal alone: popularity (interaction counts),
    EASE, the semantic component (`content_knn`) and the label match."""
    fold = pairs.fold
    scorer = fold.scorer
    raw = model.raw_scores(pairs.features)
    bounds = np.searchsorted(pairs.user_index, np.arange(scorer.user_count + 1))

    def ranker_block(start: int, stop: int) -> np.ndarray:
        scores = np.full((stop - start, scorer.project_count), NON_CANDIDATE, dtype=np.float64)
        low, high = bounds[start], bounds[stop]
        scores[pairs.user_index[low:high] - start, pairs.project_index[low:high]] = raw[low:high]
        return scores

    cold = settings.content_weights.as_scoring_weights()
    models = {
        "ranker": ranker_block,
        "formula": lambda a, b: scorer.weighted_block(a, b, settings.weights, cold)[0],
        "popularity": lambda a, b: np.broadcast_to(
            fold.stats.interactions, (b - a, scorer.project_count)
        ),
        "ease": lambda a, b: scorer.component("collaborative", a, b),
        "content_knn": lambda a, b: scorer.component("semantic", a, b),
        "labels": lambda a, b: (
            scorer.component("category", a, b) + scorer.component("tech_stack", a, b)
        ),
    }
    result = {}
    for name, block in models.items():
        recall, ndcg = recall_and_ndcg(
            block, scorer.excluded, fold.held_out, K, scorer.block_rows()
        )
        result[name] = {f"recall@{K}": round(recall, 6), f"ndcg@{K}": round(ndcg, 6)}
    return result

"""Fitting the learned ranker on the deployment's own interactions: `train_model`.

1. Carve `RANKER_FOLDS` seeded validation hold-outs from the current stars, their hidden stars
   disjoint (`folds.carve_folds`), each user rebuilt from the rest by the pipeline's rules.
2. Fit EASE's λ on them (best mean validation NDCG@10 of the item-item model alone).
3. Build each fold's candidates and pair features; a pair's label is whether it is a held-out
   star.
4. Cross-validate a small grid of where boosting starts × leaves × learning rate × minimum leaf
   size: each fold is validated by a fit on the others, and the point and number of rounds with
   the best NDCG@10 averaged over the folds win (one fold of a few dozen users is too noisy to
   choose on). LightGBM runs deterministic, on a fixed seed and thread count, so the same inputs
   give the same model text.
5. Score every fold over the whole catalogue with the chosen point's fit that never saw it, next
   to the formula (the configured weights), popularity and EASE: the validation metrics, averaged
   over the folds. Calibrate the score (Platt) on those out-of-fold predictions, and fit the
   stored model on every fold with the chosen point and rounds.

Too little data (fewer than `RANKER_MIN_USERS` users with `RANKER_MIN_STARS` stars, fewer than
`RANKER_MIN_POSITIVES` held-out stars among the candidates, a fold without one), or a formula
that beats the ranker on the validation folds, gives no model and a reason: the caller scores
with the formula's weights.
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
from octorec.ranker.validation import models_recall_and_ndcg, recall_and_ndcg
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
    per_fold_positives = [int(p.labels.sum()) for p in pairs]
    positives = sum(per_fold_positives)
    if positives < ranker.min_positives or min(per_fold_positives) == 0:
        return FitOutcome(
            None,
            f"{positives} held-out stars among the folds' candidates "
            f"({', '.join(map(str, per_fold_positives))} per fold); the ranker needs "
            f"{ranker.min_positives} (RANKER_MIN_POSITIVES) and at least 1 in every fold: "
            "scoring with the formula's weights",
            seconds=time.perf_counter() - started,
            collaborative_regularization=regularization,
        )
    search = _cross_validate(pairs, ranker.threads, seed)
    chosen, scale, rounds = search.chosen, float(search.chosen["formula_scale"]), search.rounds
    # Each fold is scored by the chosen point's fit on the other folds: what the chosen model
    # does on users' stars it never trained on, next to the formula and the single signals.
    fold_models = [_fold_model(b, rounds, scale, regularization) for b in search.boosters]
    per_fold = [
        validation_metrics(part, model, settings)
        for part, model in zip(pairs, fold_models, strict=True)
    ]
    metrics = _mean_metrics(per_fold)
    out_of_fold = np.concatenate(
        [model.raw_scores(part.features) for part, model in zip(pairs, fold_models, strict=True)]
    )
    calibration = fit_calibration(out_of_fold, np.concatenate([p.labels for p in pairs]))
    formula, learned = metrics["formula"], metrics["ranker"]
    if _formula_wins(formula, learned):
        return FitOutcome(
            None,
            f"the formula beat the ranker on the validation folds (each scored by a fit that "
            f"never saw it; recall@{K} {formula[f'recall@{K}']:.4f} vs "
            f"{learned[f'recall@{K}']:.4f}, NDCG@{K} {formula[f'ndcg@{K}']:.4f} vs "
            f"{learned[f'ndcg@{K}']:.4f}): scoring with the formula's weights",
            metrics,
            time.perf_counter() - started,
            regularization,
        )
    train_set = _stack(pairs)
    booster = _fit(train_set, chosen, scale, rounds, ranker.threads, seed)
    seconds = time.perf_counter() - started
    model = RankingModel(
        model_text=booster.model_to_string(),
        calibration=calibration,
        formula_scale=scale,
        collaborative_regularization=regularization,
        candidates_per_signal=ranker.candidates_per_signal,
        training_fingerprint=training_fingerprint(profiles, projects, seed),
        settings={
            "ranker": ranker.model_dump(),
            "seed": seed,
            "lightgbm": chosen,
            "grid": search.grid,
            "collaborative_regularization": regularization,
            "training_pairs": len(train_set[1]),
            "training_positives": positives,
            "folds": len(pairs),
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


def _parameters(
    leaves: int, rate: float, min_child: int, threads: int, seed: int
) -> dict[str, Any]:
    return {
        "objective": "rank_xendcg",
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


@dataclass(frozen=True)
class _Search:
    """The cross-validated grid's choice."""

    chosen: dict[str, Any]
    """The chosen grid point, with its rounds and mean validation NDCG@10."""
    rounds: int
    boosters: list[lgb.Booster]
    """The chosen point's fit on every fold but one, per fold (fold k's fit never saw it)."""
    grid: list[dict[str, Any]]


def _dataset(
    part: tuple[np.ndarray, np.ndarray, np.ndarray],
    scale: float,
    reference: lgb.Dataset | None = None,
    params: dict[str, Any] | None = None,
) -> lgb.Dataset:
    """A LightGBM dataset of stacked pairs, boosting starting from `scale ×` the formula;
    `params` are those it will be trained with (to build it now, once)."""
    column = FEATURE_NAMES.index("formula")
    return lgb.Dataset(
        part[0],
        part[1],
        group=part[2],
        init_score=scale * part[0][:, column].astype(np.float64),
        feature_name=list(FEATURE_NAMES),
        params={"verbosity": -1, "max_bin": 63, **(params or {})},
        reference=reference,
    )


def _fit(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    point: dict[str, Any],
    scale: float,
    rounds: int,
    threads: int,
    seed: int,
) -> lgb.Booster:
    """The grid point fitted on `train` for `rounds` rounds."""
    params = _parameters(
        int(point["num_leaves"]),
        float(point["learning_rate"]),
        int(point["min_child_samples"]),
        threads,
        seed,
    )
    return lgb.train(params, _dataset(train, scale), num_boost_round=max(1, rounds))


def _cross_validate(pairs: Sequence[_FoldPairs], threads: int, seed: int) -> _Search:
    """The grid point and number of rounds with the best validation NDCG@10 averaged over the
    folds, each fold scored by a fit on the others (ties to the first point, the fewest rounds).

    One hold-out of a few dozen users is too noisy to choose on (a point that wins there loses
    on the next); the mean over every fold is much less so. A fit stops `EARLY_STOPPING` rounds
    after its fold's best; past that, its curve counts as flat at its last value."""
    best: tuple[float, int, dict[str, Any], list[lgb.Booster]] | None = None
    grid = []
    stacks = [_stack([part]) for part in pairs]
    trains = [_stack([p for j, p in enumerate(pairs) if j != k]) for k in range(len(pairs))]
    column = FEATURE_NAMES.index("formula")
    # Binning a fold's data is a large part of a fit: each fold's datasets are built once per
    # minimum leaf size (the one grid parameter binning depends on) and only their start moves.
    built: dict[tuple[int, int], tuple[lgb.Dataset, lgb.Dataset]] = {}
    for scale, leaves, rate, min_child in itertools.product(
        FORMULA_SCALES, LEAVES, LEARNING_RATES, MIN_CHILD_SAMPLES
    ):
        params = _parameters(leaves, rate, min_child, threads, seed)
        curves, boosters = [], []
        for fold, (train, valid) in enumerate(zip(trains, stacks, strict=True)):
            if (fold, min_child) not in built:
                train_set = _dataset(train, 0.0, params=params)
                valid_set = _dataset(valid, 0.0, reference=train_set, params=params)
                built[fold, min_child] = (train_set.construct(), valid_set.construct())
            train_set, valid_set = built[fold, min_child]
            train_set.set_init_score(scale * train[0][:, column].astype(np.float64))
            valid_set.set_init_score(scale * valid[0][:, column].astype(np.float64))
            recorded: dict[str, Any] = {}
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=MAX_ROUNDS,
                valid_sets=[valid_set],
                callbacks=[
                    lgb.record_evaluation(recorded),
                    lgb.early_stopping(EARLY_STOPPING, first_metric_only=True, verbose=False),
                ],
            )
            curves.append(np.asarray(recorded["valid_0"][f"ndcg@{K}"], dtype=np.float64))
            boosters.append(booster)
        rounds, score = best_rounds(curves)
        point = {
            "formula_scale": scale,
            "num_leaves": leaves,
            "learning_rate": rate,
            "min_child_samples": min_child,
            "rounds": rounds,
            f"validation_ndcg@{K}": round(score, 6),
        }
        grid.append(point)
        if best is None or score > best[0]:
            best = (score, rounds, point, boosters)
    assert best is not None
    _, rounds, point, boosters = best
    return _Search(point, rounds, boosters, grid)


def best_rounds(curves: Sequence[np.ndarray]) -> tuple[int, float]:
    """The number of rounds (from 1) with the best validation metric averaged over the folds'
    curves (a curve shorter than the longest, stopped early, counts as flat at its last value;
    ties to the fewest rounds), and that mean."""
    length = max(len(curve) for curve in curves)
    mean = np.mean(
        [
            np.pad(np.asarray(curve, float), (0, length - len(curve)), mode="edge")
            for curve in curves
        ],
        axis=0,
    )
    rounds = int(np.argmax(mean)) + 1
    return rounds, float(mean[rounds - 1])


def _fold_model(
    booster: lgb.Booster, rounds: int, scale: float, regularization: float
) -> RankingModel:
    """A fold's fit, cut at `rounds`, as an (uncalibrated) model to validate."""
    return RankingModel(
        model_text=booster.model_to_string(num_iteration=rounds),
        calibration=Calibration(1.0, 0.0),
        collaborative_regularization=regularization,
        candidates_per_signal=0,
        training_fingerprint="",
        formula_scale=scale,
    )


def _mean_metrics(per_fold: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Each model's metrics averaged over the folds."""
    return {
        model: {
            metric: round(float(np.mean([fold[model][metric] for fold in per_fold])), 6)
            for metric in values
        }
        for model, values in per_fold[0].items()
    }


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

    def blocks(start: int, stop: int) -> dict[str, np.ndarray]:
        formula, computed = scorer.weighted_block(start, stop, settings.weights, cold)

        def component(name: str) -> np.ndarray:
            found = computed.get(name)
            return scorer.component(name, start, stop) if found is None else found

        return {
            "ranker": ranker_block(start, stop),
            "formula": formula,
            "popularity": np.broadcast_to(
                fold.stats.interactions, (stop - start, scorer.project_count)
            ),
            "ease": component("collaborative"),
            "content_knn": component("semantic"),
            "labels": component("category") + component("tech_stack"),
        }

    # Every model's scores of a block at once: the formula's components are the single signals.
    found = models_recall_and_ndcg(
        blocks, scorer.excluded, fold.held_out, K, scorer.block_rows(arrays=12)
    )
    return {
        name: {f"recall@{K}": round(recall, 6), f"ndcg@{K}": round(ndcg, 6)}
        for name, (recall, ndcg) in found.items()
    }

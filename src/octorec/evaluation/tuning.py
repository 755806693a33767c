"""Choosing weights and baseline settings on a validation split, never on the test split."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from octorec.scoring.ranking import top_ranked
from octorec.scoring.registry import COMPONENTS
from octorec.settings import ScoringWeights


@dataclass(frozen=True)
class RelevanceTarget:
    """The validation answers in matrix form, for fast scoring of many candidates."""

    rows: np.ndarray
    """The evaluated users' rows in the score matrices."""
    relevant: np.ndarray
    """`len(rows) × projects` booleans: held-out projects."""
    relevant_counts: np.ndarray
    """How many held-out interactions each user has (including any outside the catalogue)."""
    excluded: np.ndarray
    """`len(rows) × projects` booleans: what may not be recommended."""

    @classmethod
    def build(
        cls,
        held_out: Mapping[int, Iterable[str]],
        names: Sequence[str],
        excluded: np.ndarray,
    ) -> RelevanceTarget:
        """From each evaluated row's held-out project names (compared without case)."""
        column = {name.lower(): j for j, name in enumerate(names)}
        rows = np.array(sorted(held_out), dtype=np.int64)
        relevant = np.zeros((len(rows), len(names)), dtype=bool)
        counts = np.zeros(len(rows), dtype=np.int64)
        for i, row in enumerate(rows.tolist()):
            items = {p.lower() for p in held_out[row]}
            counts[i] = len(items)
            for item in items:
                if item in column:
                    relevant[i, column[item]] = True
        return cls(rows=rows, relevant=relevant, relevant_counts=counts, excluded=excluded[rows])

    def recall_and_ndcg(self, scores: np.ndarray, k: int) -> tuple[float, float]:
        """Mean recall@k and NDCG@k of the rankings `scores` (rows aligned with `rows`) gives."""
        best = top_ranked(scores, self.excluded, k)
        allowed = ~np.take_along_axis(self.excluded, best, axis=1)
        hits = np.take_along_axis(self.relevant, best, axis=1) & allowed
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        gains = hits @ discounts
        ideal = np.array([discounts[: min(k, n)].sum() for n in self.relevant_counts])
        counts = np.maximum(self.relevant_counts, 1)
        recall = float(np.mean(hits.sum(axis=1) / counts))
        ndcg = float(np.mean(np.divide(gains, ideal, out=np.zeros_like(gains), where=ideal > 0)))
        return recall, ndcg

    def ndcg(self, scores: np.ndarray, k: int) -> float:
        """Mean NDCG@k of the rankings `scores` (rows aligned with `rows`) gives."""
        return self.recall_and_ndcg(scores, k)[1]


def simplex_grid(dimensions: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector of `dimensions` non-negative multiples of `step` that sum to 1."""
    units = round(1 / step)
    return [
        tuple(part / units for part in combination)
        for combination in itertools.product(range(units + 1), repeat=dimensions)
        if sum(combination) == units
    ]


@dataclass(frozen=True)
class FittedWeights:
    """The best weights (and collaborative shrinkage) found, with their validation metrics."""

    weights: ScoringWeights
    shrinkage: float
    validation_recall: float
    validation_ndcg: float
    candidates: int


def fit_weights(
    total: Callable[[ScoringWeights, int, float], np.ndarray],
    targets: Sequence[RelevanceTarget],
    k: int,
    step: float = 0.2,
    shrinkages: Sequence[float] = (0.0,),
) -> FittedWeights:
    """Search the weight simplex (and the collaborative shrinkages) for the best validation
    recall@k and NDCG@k together.

    `total(weights, fold, shrinkage)` gives a fold's score matrix (the scorer's own combination).
    Each candidate's recall and NDCG are averaged over the folds, then each is divided by the best
    any candidate reached; the candidate with the highest sum of the two wins (ties go to the
    first found, which is deterministic). Neither metric can be bought by giving up the other.
    """
    grid = [
        ScoringWeights.model_validate(dict(zip(COMPONENTS, values, strict=True)))
        for values in simplex_grid(len(COMPONENTS), step)
    ]
    candidates = [(weights, shrinkage) for shrinkage in shrinkages for weights in grid]
    measured = np.array(
        [
            np.mean(
                [t.recall_and_ndcg(total(w, i, b)[t.rows], k) for i, t in enumerate(targets)],
                axis=0,
            )
            for w, b in candidates
        ]
    )
    best_values = np.maximum(measured.max(axis=0), 1e-12)
    objective = (measured / best_values).sum(axis=1)
    winner = int(np.argmax(objective))
    return FittedWeights(
        weights=candidates[winner][0],
        shrinkage=candidates[winner][1],
        validation_recall=float(measured[winner, 0]),
        validation_ndcg=float(measured[winner, 1]),
        candidates=len(candidates),
    )


def pick_best(
    candidates: Mapping[int, Sequence[np.ndarray]], targets: Sequence[RelevanceTarget], k: int
) -> tuple[int, float]:
    """The setting whose score matrices (one per fold) give the best mean validation NDCG@k."""
    results = {
        value: float(
            np.mean([t.ndcg(m[t.rows], k) for m, t in zip(matrices, targets, strict=True)])
        )
        for value, matrices in candidates.items()
    }
    value = max(results, key=lambda v: (results[v], -v))
    return value, results[value]

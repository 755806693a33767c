"""Ranking metrics for top-k recommendation lists, averaged over users.

Each per-user function takes the ranked recommendations (best first) and the set of held-out
relevant items. Conventions follow the usual offline-evaluation definitions: precision@k divides
by k, recall@k by the number of relevant items, NDCG@k uses binary gains and log2 discounts,
MAP@k divides by min(k, |relevant|).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np


def precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the top k that is relevant (missing slots count as misses)."""
    return sum(1 for item in ranked[:k] if item in relevant) / k


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant items found in the top k."""
    if not relevant:
        return 0.0
    return sum(1 for item in ranked[:k] if item in relevant) / len(relevant)


def hit_rate_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """1 when any relevant item is in the top k."""
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Discounted cumulative gain of the top k over the best possible for this user."""
    gain = sum(
        1.0 / math.log2(position + 2)
        for position, item in enumerate(ranked[:k])
        if item in relevant
    )
    ideal = sum(1.0 / math.log2(position + 2) for position in range(min(k, len(relevant))))
    return gain / ideal if ideal else 0.0


def average_precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Mean of precision at each rank where a relevant item appears, over min(k, |relevant|)."""
    if not relevant:
        return 0.0
    hits = 0
    total = 0.0
    for position, item in enumerate(ranked[:k], start=1):
        if item in relevant:
            hits += 1
            total += hits / position
    return total / min(k, len(relevant))


PER_USER: Mapping[str, Callable[[Sequence[str], set[str], int], float]] = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "map": average_precision_at_k,
    "hit_rate": hit_rate_at_k,
}


def catalogue_coverage(
    recommendations: Mapping[str, Sequence[str]], catalogue_size: int, k: int
) -> float:
    """Share of the catalogue that appears in at least one user's top k."""
    shown = {item for ranked in recommendations.values() for item in ranked[:k]}
    return len(shown) / catalogue_size if catalogue_size else 0.0


def intra_list_diversity(ranked: Sequence[str], vectors: Mapping[str, np.ndarray], k: int) -> float:
    """Mean pairwise cosine distance between the top-k items (0 for fewer than two)."""
    items = [vectors[item] for item in ranked[:k] if item in vectors]
    if len(items) < 2:
        return 0.0
    matrix = np.stack(items).astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    similarity = matrix @ matrix.T
    upper = similarity[np.triu_indices(len(items), k=1)]
    return float(np.mean(1.0 - upper))


def novelty(ranked: Sequence[str], popularity_percentile: Mapping[str, float], k: int) -> float:
    """Mean popularity percentile of the top k (lower means less obvious recommendations)."""
    values = [popularity_percentile[item] for item in ranked[:k] if item in popularity_percentile]
    return float(np.mean(values)) if values else 0.0


def per_user_values(
    recommendations: Mapping[str, Sequence[str]],
    held_out: Mapping[str, Sequence[str]],
    ks: Sequence[int],
) -> dict[str, list[float]]:
    """Every per-user metric at every k, one value per user with held-out items (sorted by
    login), for a bootstrap over users; their means are `evaluate_rankings`."""
    users = sorted(user for user, items in held_out.items() if items)
    return {
        f"{name}@{k}": [metric(recommendations.get(u, []), set(held_out[u]), k) for u in users]
        for k in ks
        for name, metric in PER_USER.items()
    }


def bootstrap_interval(
    per_seed: Sequence[Sequence[float]],
    seed: int = 0,
    resamples: int = 1000,
    level: float = 0.95,
) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean over seeds of each seed's mean over users.

    Each resample draws each seed's users with replacement (the same `seed` gives the same
    draws, so two models compared on the same splits are resampled alike).
    """
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for values in per_seed:
        array = np.asarray(values, dtype=np.float64)
        if len(array) == 0:
            continue
        picks = rng.integers(0, len(array), size=(resamples, len(array)))
        means += array[picks].mean(axis=1)
    means /= max(len(per_seed), 1)
    tail = (1.0 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def evaluate_rankings(
    recommendations: Mapping[str, Sequence[str]],
    held_out: Mapping[str, Sequence[str]],
    ks: Sequence[int],
) -> dict[str, float]:
    """Every per-user metric at every k, averaged over the users with held-out items.

    A user without recommendations counts with zeros, so a model cannot gain by staying silent.
    """
    users = [user for user, items in held_out.items() if items]
    results: dict[str, float] = {}
    for k in ks:
        for name, metric in PER_USER.items():
            scores = [metric(recommendations.get(u, []), set(held_out[u]), k) for u in users]
            results[f"{name}@{k}"] = float(np.mean(scores)) if scores else 0.0
    return results

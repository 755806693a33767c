"""Metrics against answers computed by hand."""

import math

import numpy as np
import pytest

from octorec.evaluation.metrics import (
    average_precision_at_k,
    bootstrap_interval,
    catalogue_coverage,
    evaluate_rankings,
    hit_rate_at_k,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    per_user_values,
    precision_at_k,
    recall_at_k,
)

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "d", "z"}


def test_precision_recall_and_hits_by_hand() -> None:
    assert precision_at_k(RANKED, RELEVANT, 2) == pytest.approx(1 / 2)
    assert precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert precision_at_k(["b"], RELEVANT, 5) == pytest.approx(1 / 5)  # short lists are not padded
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert recall_at_k(RANKED, set(), 5) == 0.0
    assert hit_rate_at_k(RANKED, RELEVANT, 1) == 0.0
    assert hit_rate_at_k(RANKED, RELEVANT, 2) == 1.0


def test_ndcg_by_hand() -> None:
    # hits at ranks 2 and 4: 1/log2(3) + 1/log2(5); ideal for 3 relevant: ranks 1, 2, 3
    gain = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(gain / ideal)
    assert ndcg_at_k(["b", "d"], {"b", "d"}, 2) == pytest.approx(1.0)
    assert ndcg_at_k(RANKED, set(), 5) == 0.0


def test_average_precision_by_hand() -> None:
    # precision at the hits: 1/2 at rank 2, 2/4 at rank 4; divided by min(5, 3)
    assert average_precision_at_k(RANKED, RELEVANT, 5) == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert average_precision_at_k(RANKED, RELEVANT, 2) == pytest.approx((1 / 2) / 2)


def test_averages_count_silent_users_as_zero() -> None:
    results = evaluate_rankings(
        {"u1": ["x", "y"], "u2": []}, {"u1": ["x"], "u2": ["q"], "u3": []}, [1, 2]
    )
    assert results["precision@1"] == pytest.approx((1 + 0) / 2)
    assert results["recall@2"] == pytest.approx((1 + 0) / 2)
    assert results["hit_rate@2"] == pytest.approx(0.5)
    assert set(results) == {
        f"{name}@{k}" for name in ("precision", "recall", "ndcg", "map", "hit_rate") for k in (1, 2)
    }


def test_coverage_diversity_and_novelty_by_hand() -> None:
    assert catalogue_coverage({"u1": ["a", "b"], "u2": ["b", "c"]}, 10, 2) == pytest.approx(0.3)
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0]), "c": np.array([1.0, 0.0])}
    # distances: a-b 1, a-c 0, b-c 1 → mean 2/3
    assert intra_list_diversity(["a", "b", "c"], vectors, 3) == pytest.approx(2 / 3)
    assert intra_list_diversity(["a"], vectors, 3) == 0.0
    assert novelty(["a", "b"], {"a": 0.9, "b": 0.5}, 2) == pytest.approx(0.7)


def test_per_user_values_average_to_the_reported_metrics() -> None:
    recommendations = {"ann": ["a", "b", "c"], "bob": ["d", "e", "f"], "cy": []}
    held_out = {"ann": ["a", "x"], "bob": ["f"], "cy": ["z"]}
    values = per_user_values(recommendations, held_out, [3])
    assert values["recall@3"] == [0.5, 1.0, 0.0]
    means = evaluate_rankings(recommendations, held_out, [3])
    for metric, per_user in values.items():
        assert sum(per_user) / 3 == pytest.approx(means[metric])


def test_the_bootstrap_interval_is_seeded_and_holds_the_mean() -> None:
    seeds = [[0.0, 0.2, 0.4, 1.0], [0.1, 0.3, 0.5]]
    low, high = bootstrap_interval(seeds, seed=0)
    assert bootstrap_interval(seeds, seed=0) == (low, high)
    assert low < (0.4 + 0.3) / 2 < high
    assert bootstrap_interval([[0.3, 0.3, 0.3]], seed=0) == pytest.approx((0.3, 0.3))
    assert bootstrap_interval(seeds, seed=1) != (low, high)

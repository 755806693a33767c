"""Recall@k and NDCG@k of full-catalogue rankings on held-out stars: known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from octorec.ranker.validation import models_recall_and_ndcg, recall_and_ndcg

# Two users, four projects. User 0 knows project 1 (excluded) and hid project 2; user 1 hid
# projects 0 and 3.
HELD_OUT = sp.csr_matrix(np.array([[0, 0, 1, 0], [1, 0, 0, 1]], dtype=np.float32))
EXCLUDED = np.array([[False, True, False, False], [False, False, False, False]])
SCORES = {
    # user 0: 2, 0 → hit at 1; user 1: 1, 3 → one of two, at rank 2.
    "a": np.array([[0.1, 0.9, 0.8, 0.0], [0.2, 0.5, 0.1, 0.4]]),
    # user 0: 3, 0 → none; user 1: 3, 0 → both.
    "b": np.array([[0.3, 0.2, 0.1, 1.0], [0.3, 0.2, 0.1, 1.0]]),
}


def _blocks(start: int, stop: int) -> dict[str, np.ndarray]:
    return {name: scores[start:stop] for name, scores in SCORES.items()}


@pytest.mark.parametrize("block_rows", [1, 2])
def test_several_models_are_scored_together_with_known_answers(block_rows: int):
    found = models_recall_and_ndcg(
        _blocks, lambda start, stop: EXCLUDED[start:stop], HELD_OUT, 2, block_rows
    )
    second = 1 / np.log2(3)
    assert found["a"] == pytest.approx((0.75, (1 + second / (1 + second)) / 2))
    assert found["b"] == pytest.approx((0.5, 0.5))


def test_one_model_alone_gives_the_same():
    alone = recall_and_ndcg(
        lambda start, stop: SCORES["a"][start:stop],
        lambda start, stop: EXCLUDED[start:stop],
        HELD_OUT,
        2,
        2,
    )
    together = models_recall_and_ndcg(
        _blocks, lambda start, stop: EXCLUDED[start:stop], HELD_OUT, 2, 2
    )
    assert alone == together["a"]


def test_nobody_with_held_out_stars_scores_zero():
    empty = sp.csr_matrix((2, 4), dtype=np.float32)
    found = models_recall_and_ndcg(_blocks, lambda start, stop: EXCLUDED[start:stop], empty, 2, 2)
    assert found == {"a": (0.0, 0.0), "b": (0.0, 0.0)}

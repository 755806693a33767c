"""Recall@k and NDCG@k of full-catalogue rankings on a fold's held-out stars, block by block."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from octorec.scoring.ranking import top_ranked

ScoreBlock = Callable[[int, int], np.ndarray]
"""Users `start:stop` × every project: a model's scores (higher is better)."""


def recall_and_ndcg(
    score_block: ScoreBlock,
    excluded_block: Callable[[int, int], np.ndarray],
    held_out: sp.csr_matrix,
    k: int,
    block_rows: int,
) -> tuple[float, float]:
    """Mean recall@k and NDCG@k over the users with held-out stars (binary gains, log2
    discounts, as `octorec.evaluation.metrics`)."""
    counts = np.diff(held_out.indptr)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recall_sum = ndcg_sum = 0.0
    users = 0
    for start in range(0, held_out.shape[0], block_rows):
        stop = min(start + block_rows, held_out.shape[0])
        rows = np.nonzero(counts[start:stop] > 0)[0]
        if len(rows) == 0:
            continue
        scores = score_block(start, stop)[rows]
        excluded = excluded_block(start, stop)[rows]
        best = top_ranked(scores, excluded, k)
        allowed = ~np.take_along_axis(excluded, best, axis=1)
        relevant = held_out[start + rows].toarray() > 0
        hits = np.take_along_axis(relevant, best, axis=1) & allowed
        n = counts[start + rows]
        ideal = np.array([discounts[: min(k, m)].sum() for m in n])
        recall_sum += float((hits.sum(axis=1) / n).sum())
        ndcg_sum += float(((hits @ discounts) / ideal).sum())
        users += len(rows)
    if users == 0:
        return 0.0, 0.0
    return recall_sum / users, ndcg_sum / users

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
    return models_recall_and_ndcg(
        lambda start, stop: {"model": score_block(start, stop)},
        excluded_block,
        held_out,
        k,
        block_rows,
    )["model"]


def models_recall_and_ndcg(
    score_blocks: Callable[[int, int], dict[str, np.ndarray]],
    excluded_block: Callable[[int, int], np.ndarray],
    held_out: sp.csr_matrix,
    k: int,
    block_rows: int,
) -> dict[str, tuple[float, float]]:
    """`recall_and_ndcg` of several models whose scores come together, block by block (so
    what they share, e.g. a component of the formula and a single-signal model, is computed
    once per block): model name → (recall@k, NDCG@k)."""
    counts = np.diff(held_out.indptr)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    sums: dict[str, list[float]] = {}
    users = 0
    for start in range(0, held_out.shape[0], block_rows):
        stop = min(start + block_rows, held_out.shape[0])
        rows = np.nonzero(counts[start:stop] > 0)[0]
        if len(rows) == 0:
            continue
        excluded = excluded_block(start, stop)[rows]
        relevant = held_out[start + rows].toarray() > 0
        n = counts[start + rows]
        ideal = np.array([discounts[: min(k, m)].sum() for m in n])
        for name, block in score_blocks(start, stop).items():
            best = top_ranked(block[rows], excluded, k)
            allowed = ~np.take_along_axis(excluded, best, axis=1)
            hits = np.take_along_axis(relevant, best, axis=1) & allowed
            total = sums.setdefault(name, [0.0, 0.0])
            total[0] += float((hits.sum(axis=1) / n).sum())
            total[1] += float(((hits @ discounts) / ideal).sum())
        users += len(rows)
    if users == 0:  # nobody has held-out stars: every model scores 0
        return {name: (0.0, 0.0) for name in score_blocks(0, min(block_rows, held_out.shape[0]))}
    return {name: (recall / users, ndcg / users) for name, (recall, ndcg) in sums.items()}

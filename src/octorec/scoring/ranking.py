"""Choosing each row's best columns: the top N (ties to the lower index), the best positive
values, and the distinct values of each row."""

from __future__ import annotations

import numpy as np

SAMPLE_STRIDE = 8
"""Every how many columns `best_positive_columns` samples to estimate a row's threshold."""


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's `n` best scores, best first, ties to the lower index.

    One partial sort picks each row's `n` best columns; only rows where other columns tie the
    n-th best value (rare, except when most of a row is excluded) go through the slower
    deterministic selection, so ties at the cut-off still go to the lower index.
    """
    k = min(n, scores.shape[1])
    if k == 0 or scores.shape[0] == 0:
        return np.zeros((scores.shape[0], k), dtype=np.int64)
    candidates = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    kth = candidate_scores.min(axis=1, keepdims=True)
    crowded = np.count_nonzero(scores >= kth, axis=1) > k
    if crowded.any():
        candidates[crowded] = top_n_with_ties(scores[crowded], k)
        candidate_scores[crowded] = np.take_along_axis(scores[crowded], candidates[crowded], axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=-1)
    return np.take_along_axis(candidates, order, axis=1)


def top_n_with_ties(scores: np.ndarray, n: int) -> np.ndarray:
    """`top_n` for rows with ties at the cut-off.

    A partial sort finds each row's n-th best value; every column above it is taken, and the
    lowest-indexed columns equal to it fill the rest, so ties at the cut-off are deterministic.
    """
    k = min(n, scores.shape[1])
    if k == 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1 : k]
    above = scores > kth
    at = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (at & (np.cumsum(at, axis=1) <= room))
    candidates = np.nonzero(chosen)[1].reshape(scores.shape[0], k)
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=-1)
    return np.take_along_axis(candidates, order, axis=1)


def top_ranked(scores: np.ndarray, excluded: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's `n` best allowed scores, best first, ties to the lower index.

    Excluded columns score -inf; callers drop them with `np.isfinite`.
    """
    return top_n(np.where(excluded, -np.inf, scores), n)


def best_positive_columns(matrix: np.ndarray, count: int) -> np.ndarray:
    """Each row's `count` largest positive columns, in no order, -1 padded where a row has fewer.

    A partial sort of every whole row costs ~9 ns an element; instead each row's threshold is
    estimated from every `SAMPLE_STRIDE`-th column (set to pass about three times `count`), and
    only the columns at or above it are sorted. The few rows where the estimate passes too few
    are partially sorted whole, so the result is exact (ties at the cut-off aside).
    """
    rows, width = matrix.shape
    count = min(count, width)
    result = np.full((rows, count), -1, dtype=np.int64)
    if count == 0:
        return result
    threshold = np.zeros((rows, 1), dtype=matrix.dtype)
    sample = matrix[:, ::SAMPLE_STRIDE]
    rank = 3 * count // SAMPLE_STRIDE
    if 1 <= rank < sample.shape[1]:
        cut = sample.shape[1] - rank
        threshold = np.partition(sample, cut, axis=1)[:, cut : cut + 1]
    passed = matrix >= np.maximum(threshold, np.finfo(matrix.dtype).tiny)  # positive only
    counts = np.count_nonzero(passed, axis=1)
    short = (counts < count) & (threshold[:, 0] > 0)
    if short.any():
        whole = matrix[short]
        best = np.argpartition(-whole, count - 1, axis=1)[:, :count]
        result[short] = np.where(np.take_along_axis(whole, best, axis=1) > 0, best, -1)
        passed[short] = False
        counts[short] = 0
    row, column = np.divmod(np.flatnonzero(passed), width)  # np.nonzero is ~6× slower
    slot = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    kept = max(count, int(counts.max(initial=0)))
    values = np.full((rows, kept), -np.inf, dtype=matrix.dtype)
    values[row, slot] = matrix[row, column]
    columns = np.full((rows, kept), -1, dtype=np.int64)
    columns[row, slot] = column
    if kept > count:
        best = np.argpartition(-values, count - 1, axis=1)[:, :count]
        columns = np.take_along_axis(columns, best, axis=1)
    result[~short] = columns[~short]
    return result


def unique_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row's distinct non-negative values, ascending, then -1 padding.

    Ascending order makes ties at the cut-off go to the lower project index, as in exact mode.
    """
    padding = np.iinfo(np.int64).max
    ordered = np.sort(np.where(matrix < 0, padding, matrix), axis=1)
    repeated = np.zeros_like(ordered, dtype=bool)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    ordered[repeated] = padding
    ordered = np.sort(ordered, axis=1)
    width = int(np.max(np.sum(ordered != padding, axis=1), initial=0))
    ordered = ordered[:, :width]
    return np.where(ordered == padding, -1, ordered)

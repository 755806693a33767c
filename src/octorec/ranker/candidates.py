"""Stage 1: each user's candidates, the union of the best `per_signal` projects of each signal.

The signals are the semantic component, the collaborative (EASE) one, the projects' interaction
counts in the run (popularity) and the category + tech-stack match. Known and ineligible projects
are never candidates (the scorer's exclusions), and a signal proposes only projects it scores
above 0 (popularity proposes its best whatever they score, so every user has candidates).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from octorec.scoring.ranking import top_n

FEW_TIED = 8
"""Tied pairs of one value counted one by one (more share one running count)."""

SIGNALS = ("semantic", "collaborative", "popularity", "labels")
"""The signals candidates are drawn from, in order."""


def signal_blocks(
    components: Mapping[str, np.ndarray], interactions: np.ndarray, rows: int
) -> dict[str, np.ndarray]:
    """Each signal's users × projects block from a block's unweighted components.

    Popularity is the interaction count with the catalogue popularity (in [0, 1)) breaking ties.
    """
    popularity = interactions + 0.5 * np.asarray(components["popularity"][0], dtype=np.float32)
    return {
        "semantic": np.asarray(components["semantic"]),
        "collaborative": np.asarray(components["collaborative"]),
        "popularity": np.broadcast_to(popularity, (rows, len(popularity))),
        "labels": np.asarray(components["category"]) + np.asarray(components["tech_stack"]),
    }


def candidate_mask(
    signals: Mapping[str, np.ndarray], excluded: np.ndarray, per_signal: int
) -> np.ndarray:
    """True at each user's candidates: the union over `signals` of its best `per_signal`
    allowed projects (ties to the lower index, so the same inputs give the same candidates)."""
    mask = np.zeros(excluded.shape, dtype=bool)
    rows = np.arange(excluded.shape[0])[:, None]
    for name, values in signals.items():
        blocked = excluded if name == "popularity" else excluded | (values <= 0)
        masked = np.where(blocked, -np.inf, values)
        best = top_n(masked, per_signal)
        finite = np.isfinite(np.take_along_axis(masked, best, axis=1))
        mask[np.broadcast_to(rows, best.shape)[finite], best[finite]] = True
    return mask


def allowed_rank(values: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    """Each project's 0-based rank within its user's allowed projects by `values` (best 0;
    ties to the lower index); excluded projects rank after every allowed one."""
    masked = np.where(excluded, -np.inf, values)
    order = np.lexsort((np.broadcast_to(np.arange(values.shape[1]), values.shape), -masked))
    ranks = np.empty(values.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, np.arange(values.shape[1])[None, :], axis=1)
    return ranks


def allowed_rank_at(
    values: np.ndarray, excluded: np.ndarray, rows: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """`allowed_rank(values, excluded)[rows, columns]` without ranking every project.

    An entry's rank is the number of entries of its row above it (excluded ones count as
    -inf) plus the equal ones at a lower index: each row is sorted once (a plain sort, not
    the two-key stable one) and the asked entries are found in it by binary search; ties are
    counted only where there are any. The same ranks, several times faster on a catalogue
    row. Values with NaN are ranked by `allowed_rank`.
    """
    rows = np.asarray(rows, dtype=np.int64)
    columns = np.asarray(columns, dtype=np.int64)
    if len(rows) == 0 or np.isnan(values).any():
        return allowed_rank(values, excluded)[rows, columns]
    width = values.shape[1]
    masked = np.where(excluded, -np.inf, values).astype(values.dtype, copy=False)
    ordered = np.sort(masked, axis=1)
    asked = masked[rows, columns]
    ranks = np.empty(len(rows), dtype=np.int64)
    tied = np.zeros(len(rows), dtype=bool)
    by_row = np.argsort(rows, kind="stable")
    present, starts = np.unique(rows[by_row], return_index=True)
    bounds = np.append(starts, len(rows))
    for row, begin, end in zip(
        present.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True
    ):
        mine = by_row[begin:end]
        line = ordered[row]
        right = np.searchsorted(line, asked[mine], side="right")
        left = np.searchsorted(line, asked[mine], side="left")
        ranks[mine] = width - right  # the entries above
        tied[mine] = right - left > 1
    # Equal entries at a lower index come first: one running count per tied value (few
    # distinct ones: mostly a signal's zeros) over the rows that have it.
    tied_at = np.flatnonzero(tied)
    tied_values, group = np.unique(asked[tied_at], return_inverse=True)  # -0.0 meets 0.0
    group = group.reshape(-1)
    sizes = np.bincount(group, minlength=len(tied_values))
    for i in tied_at[sizes[group] < FEW_TIED].tolist():  # one count each
        ranks[i] += int(np.count_nonzero(masked[rows[i], : columns[i]] == asked[i]))
    for number in np.flatnonzero(sizes >= FEW_TIED).tolist():
        chosen = tied_at[group == number]
        present_rows, local = np.unique(rows[chosen], return_inverse=True)
        equal_before = np.cumsum(masked[present_rows] == tied_values[number], axis=1)
        ranks[chosen] += equal_before[local.reshape(-1), columns[chosen]] - 1
    return ranks

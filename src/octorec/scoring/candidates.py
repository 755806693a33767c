"""Which projects may be recommended: the candidate filters, as boolean masks over projects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from octorec.settings import CandidateFilters

DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class CandidateMasks:
    """`eligible`: passes the filters; `active`: also pushed recently (for users without signal)."""

    eligible: np.ndarray
    active: np.ndarray


def candidate_masks(
    languages: Sequence[str | None],
    is_fork: Sequence[bool | None],
    is_archived: Sequence[bool | None],
    pushed_at: Sequence[datetime | None],
    filters: CandidateFilters,
    newest: datetime | None = None,
) -> CandidateMasks:
    """Apply the filters to row-aligned project attributes.

    Push ages are measured from the newest push in the catalogue (`newest`, or the newest of
    these projects when not given), not from today, so a snapshot evaluates the same way
    whenever it is read. A project with no push date counts as stale.
    """
    count = len(languages)
    eligible = np.ones(count, dtype=bool)
    if filters.exclude_archived:
        eligible &= ~np.array([bool(flag) for flag in is_archived], dtype=bool)
    if filters.exclude_forks:
        eligible &= ~np.array([bool(flag) for flag in is_fork], dtype=bool)
    kept_languages = filters.language_set
    if kept_languages:
        eligible &= np.array(
            [(language or "").lower() in kept_languages for language in languages], dtype=bool
        )
    if newest is None:
        dates = [d for d in pushed_at if d is not None]
        newest = max(dates) if dates else None

    def pushed_within(months: int) -> np.ndarray:
        if newest is None:
            return np.zeros(count, dtype=bool)
        cutoff = newest - timedelta(days=months * DAYS_PER_MONTH)
        return np.array([d is not None and d >= cutoff for d in pushed_at], dtype=bool)

    if filters.max_months_since_push is not None:
        eligible &= pushed_within(filters.max_months_since_push)
    active = eligible & pushed_within(filters.cold_start_active_months)
    return CandidateMasks(eligible=eligible, active=active)

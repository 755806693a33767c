"""Short reasons for recommendations, built from the evidence the score was made of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

COLLABORATIVE_SHARE = 0.25
"""The share of the score above which the collaborative evidence is named."""
POPULARITY_SHARE = 0.5
"""The share of the score above which popularity is said to carry the recommendation."""


def most_similar_known(
    known: sp.csr_matrix,
    semantic: np.ndarray,
    user_index: np.ndarray,
    project_index: np.ndarray,
) -> list[int | None]:
    """For each kept pair, the user's known project closest in meaning to the recommended one."""
    result: list[int | None] = []
    for user, project in zip(user_index.tolist(), project_index.tolist(), strict=True):
        row = known.indices[known.indptr[user] : known.indptr[user + 1]]
        if len(row) == 0:
            result.append(None)
            continue
        similarity = semantic[row] @ semantic[project]
        best = np.lexsort((row, -similarity))[0]  # ties go to the lower index
        result.append(int(row[best]))
    return result


def reason(
    contributions: Mapping[str, float],
    matched_categories: Sequence[str],
    matched_tech_stack: Sequence[str],
    similar_known: str | None,
    without_signal: bool = False,
) -> str:
    """One line saying why a project was recommended.

    `contributions` maps each score component to its weighted value (weight × component). The
    reason names the user's most similar known project (starred or owned), the categories and
    tech stack that match, the collaborative evidence when it carries at least a quarter of the
    score, and "popular" when popularity carries at least half of it (or when the user gave no
    signal at all).
    """
    if without_signal:
        return "popular"
    total = sum(contributions.values())
    share = {name: (value / total if total > 0 else 0.0) for name, value in contributions.items()}
    parts: list[str] = []
    if similar_known is not None:
        parts.append(f"like {similar_known}, which you starred or own")
    if share.get("collaborative", 0.0) >= COLLABORATIVE_SHARE:
        parts.append("starred by people who star what you star")
    matched = [*matched_categories, *matched_tech_stack]
    if matched:
        parts.append("matches " + ", ".join(matched))
    if share.get("popularity", 0.0) >= POPULARITY_SHARE:
        parts.append("popular")
    return "; ".join(parts) or "popular"

"""Short reasons for recommendations, built from the evidence the score was made of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from octorec.scoring.registry import COMPONENTS


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


def matched_labels(
    user_labels: Sequence[Sequence[str]],
    project_labels: Sequence[Sequence[str]],
    user_index: np.ndarray,
    project_index: np.ndarray,
) -> list[list[str]]:
    """For each kept pair, the labels user and project share (sorted), to explain the match."""
    return [
        sorted(set(user_labels[u]) & set(project_labels[p]))
        for u, p in zip(user_index.tolist(), project_index.tolist(), strict=True)
    ]


def reason(
    contributions: Mapping[str, float],
    matched_categories: Sequence[str],
    matched_tech_stack: Sequence[str],
    similar_known: str | None,
    without_signal: bool = False,
) -> str:
    """One line saying why a project was recommended.

    `contributions` maps each score component to its weighted value (weight × component). The
    reason names the user's most similar known project (starred or owned), then the phrase of
    each registered component whose declaration has one (`Reason`) and whose share of the score
    reaches the declared share, and the categories and tech stack that match (by default: the
    collaborative evidence at a quarter of the score before the matches, "popular" at half of
    it after them; "popular" alone when the user gave no signal at all).
    """
    if without_signal:
        return "popular"
    total = sum(contributions.values())
    share = {name: (value / total if total > 0 else 0.0) for name, value in contributions.items()}
    named = [
        component.reason
        for component in COMPONENTS.declarations()
        if component.reason is not None and share.get(component.name, 0.0) >= component.reason.share
    ]
    parts: list[str] = []
    if similar_known is not None:
        parts.append(f"like {similar_known}, which you starred or own")
    parts += [r.phrase for r in named if not r.after_matches]
    matched = [*matched_categories, *matched_tech_stack]
    if matched:
        parts.append("matches " + ", ".join(matched))
    parts += [r.phrase for r in named if r.after_matches]
    return "; ".join(parts) or "popular"

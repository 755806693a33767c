"""Short reasons for recommendations, built from the evidence the score was made of."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.registry import COMPONENTS


@dataclass(frozen=True)
class PairEvidence:
    """What explains each kept (user, project) pair: the labels they share and the user's
    known project closest in meaning (its row; None for a user who knows none)."""

    categories: list[list[str]]
    tech_stack: list[list[str]]
    similar: list[int | None]


def pair_evidence(
    users: UserFeatures,
    projects: ProjectFeatures,
    semantic: np.ndarray,
    user_index: np.ndarray,
    project_index: np.ndarray,
) -> PairEvidence:
    """`PairEvidence` of the given pairs (`semantic`: the projects' semantic vectors)."""
    return PairEvidence(
        categories=matched_labels(users.categories, projects.categories, user_index, project_index),
        tech_stack=matched_labels(users.tech_stack, projects.tech_stack, user_index, project_index),
        similar=most_similar_known(users.known, semantic, user_index, project_index),
    )


def most_similar_known(
    known: sp.csr_matrix,
    semantic: np.ndarray,
    user_index: np.ndarray,
    project_index: np.ndarray,
) -> list[int | None]:
    """For each kept pair, the user's known project closest in meaning to the recommended one."""
    result: list[int | None] = []
    gathered: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for user, project in zip(user_index.tolist(), project_index.tolist(), strict=True):
        found = gathered.get(user)
        if found is None:
            # A user's known vectors are gathered once for all of their pairs.
            row = known.indices[known.indptr[user] : known.indptr[user + 1]]
            found = gathered[user] = (row, semantic[row])
        row, vectors = found
        if len(row) == 0:
            result.append(None)
            continue
        similarity = vectors @ semantic[project]
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

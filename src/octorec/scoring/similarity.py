"""The recommendation score, vectorised over users × projects in bounded-memory blocks.

`score = W_sem·max(0, cos(u, p)) + W_cat·J(cat_u, cat_p) + W_tech·J(tech_u, tech_p) + W_pop·pop_p`
where J is the Jaccard index (0 when either set is empty) and `pop_p` is in [0, 1].
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from octorec.features import multi_hot, vocabulary
from octorec.settings import ScoringWeights

logger = logging.getLogger(__name__)

COMPONENTS = ("semantic", "category", "tech_stack", "popularity")


@dataclass(frozen=True)
class ProjectFeatures:
    """Everything the scorer knows about the candidate projects, row-aligned."""

    names: Sequence[str]
    semantic: np.ndarray
    categories: Sequence[Sequence[str]]
    tech_stack: Sequence[Sequence[str]]
    popularity: np.ndarray


@dataclass(frozen=True)
class UserFeatures:
    """Everything the scorer knows about the users, row-aligned.

    `known` is a users × projects 0/1 matrix of projects the user starred or owns; they are never
    recommended.
    """

    logins: Sequence[str]
    semantic: np.ndarray
    categories: Sequence[Sequence[str]]
    tech_stack: Sequence[Sequence[str]]
    known: sp.csr_matrix


@dataclass(frozen=True)
class Recommendations:
    """The kept (user, project) pairs, best first per user, with each score component."""

    user_index: np.ndarray
    project_index: np.ndarray
    rank: np.ndarray
    score: np.ndarray
    semantic: np.ndarray
    category: np.ndarray
    tech_stack: np.ndarray
    popularity: np.ndarray

    def __len__(self) -> int:
        return len(self.user_index)


def jaccard(left: sp.csr_matrix, right: sp.csr_matrix) -> np.ndarray:
    """Pairwise Jaccard index of the rows of two 0/1 matrices; 0 where either set is empty."""
    intersection = np.asarray((left @ right.T).todense(), dtype=np.float32)
    left_size = np.asarray(left.sum(axis=1), dtype=np.float32).reshape(-1, 1)
    right_size = np.asarray(right.sum(axis=1), dtype=np.float32).reshape(1, -1)
    union = left_size + right_size - intersection
    defined = (left_size > 0) & (right_size > 0)
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=defined)


def score_block(
    user_semantic: np.ndarray,
    user_categories: sp.csr_matrix,
    user_tech: sp.csr_matrix,
    projects: ProjectFeatures,
    project_categories: sp.csr_matrix,
    project_tech: sp.csr_matrix,
    weights: ScoringWeights,
) -> dict[str, np.ndarray]:
    """Each component and the total for a block of users against all projects."""
    semantic = np.maximum(user_semantic @ projects.semantic.T, 0.0, dtype=np.float32)
    category = jaccard(user_categories, project_categories)
    tech_stack = jaccard(user_tech, project_tech)
    popularity = np.broadcast_to(np.asarray(projects.popularity, dtype=np.float32), semantic.shape)
    total = (
        weights.semantic * semantic
        + weights.category * category
        + weights.tech_stack * tech_stack
        + weights.popularity * popularity
    )
    return {
        "score": total,
        "semantic": semantic,
        "category": category,
        "tech_stack": tech_stack,
        "popularity": popularity,
    }


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's `n` best scores, best first, ties to the lower index."""
    k = min(n, scores.shape[1])
    if k == 0:
        return np.zeros((scores.shape[0], 0), dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    candidate_scores = np.take_along_axis(scores, candidates, axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=-1)
    return np.take_along_axis(candidates, order, axis=1)


def recommend(
    users: UserFeatures,
    projects: ProjectFeatures,
    weights: ScoringWeights,
    top_n: int,
    min_score: float,
    block_size: int = 2048,
) -> Recommendations:
    """Score every user against every project and keep each user's best `top_n` above `min_score`.

    Work is done in blocks of `block_size` users, so memory grows with
    `block_size × len(projects)`, never with users × projects.
    """
    started = time.perf_counter()
    category_labels = vocabulary(users.categories, projects.categories)
    tech_labels = vocabulary(users.tech_stack, projects.tech_stack)
    project_categories = multi_hot(projects.categories, category_labels)
    project_tech = multi_hot(projects.tech_stack, tech_labels)
    user_categories = multi_hot(users.categories, category_labels)
    user_tech = multi_hot(users.tech_stack, tech_labels)

    kept: dict[str, list[np.ndarray]] = {
        name: [] for name in ("user_index", "project_index", "rank", "score", *COMPONENTS)
    }
    for start in range(0, len(users.logins), block_size):
        stop = min(start + block_size, len(users.logins))
        block = score_block(
            users.semantic[start:stop],
            user_categories[start:stop],
            user_tech[start:stop],
            projects,
            project_categories,
            project_tech,
            weights,
        )
        eligible = np.where(users.known[start:stop].toarray() > 0, -np.inf, block["score"])
        best = _top_n(eligible, top_n)
        best_scores = np.take_along_axis(eligible, best, axis=1)
        keep = np.isfinite(best_scores) & (best_scores >= min_score)
        rows = np.nonzero(keep)[0]
        kept["user_index"].append(rows + start)
        kept["project_index"].append(best[keep])
        kept["rank"].append(np.cumsum(keep, axis=1)[keep])
        for name in ("score", *COMPONENTS):
            kept[name].append(np.take_along_axis(block[name], best, axis=1)[keep])
    result = Recommendations(
        **{name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in kept.items()}
    )
    logger.info(
        "scored %d users × %d projects in %.2f s, kept %d recommendations",
        len(users.logins),
        len(projects.names),
        time.perf_counter() - started,
        len(result),
    )
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

"""The recommendation score, vectorised over users × projects in bounded-memory blocks.

`score = W_sem·sem(u, p) + W_cat·J(cat_u, cat_p) + W_tech·J(tech_u, tech_p) + W_pop·pop_p
+ W_collab·collab(u, p)` where `sem` is the semantic similarity (`octorec.scoring.semantic`),
J the Jaccard index (0 when either set is empty), `pop_p` is in [0, 1] and `collab` the
item-item model's score scaled to [0, 1] per user (`octorec.scoring.collaborative`).

Only eligible projects (the candidate filters) are ranked. A user with no signal at all (nothing
starred or owned, no profile text, no declared interests) gets the most popular active projects,
scored by their popularity alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from octorec.features import multi_hot, vocabulary
from octorec.scoring.collaborative import fit_item_item
from octorec.scoring.semantic import semantic_similarity
from octorec.settings import ScorerSettings, ScoringWeights

logger = logging.getLogger(__name__)

COMPONENTS = ("semantic", "category", "tech_stack", "popularity", "collaborative")


@dataclass(frozen=True)
class ProjectFeatures:
    """Everything the scorer knows about the candidate projects, row-aligned."""

    names: Sequence[str]
    semantic: np.ndarray
    categories: Sequence[Sequence[str]]
    tech_stack: Sequence[Sequence[str]]
    popularity: np.ndarray
    eligible: np.ndarray | None = None
    """Which projects pass the candidate filters (all when None)."""
    active: np.ndarray | None = None
    """Which projects count as active for users without any signal (all when None)."""

    def mask(self, values: np.ndarray | None) -> np.ndarray:
        """`values` as a boolean mask over the projects, all true when None."""
        if values is None:
            return np.ones(len(self.names), dtype=bool)
        return np.asarray(values, dtype=bool)


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

    def knows_nothing(self) -> np.ndarray:
        """Users who have starred or own no catalogue project."""
        return np.diff(self.known.indptr) == 0

    def without_signal(self) -> np.ndarray:
        """Users who know no project and have no profile vector, categories or tech stack."""
        knows_nothing = self.knows_nothing()
        no_vector = ~np.any(self.semantic != 0, axis=1)
        no_labels = np.array(
            [not c and not t for c, t in zip(self.categories, self.tech_stack, strict=True)],
            dtype=bool,
        )
        return knows_nothing & no_vector & no_labels


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
    collaborative: np.ndarray

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


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's `n` best scores, best first, ties to the lower index.

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


class Scorer:
    """The per-run state of scoring: label matrices, candidate masks, the item-item model.

    `components` gives the unweighted component matrices of a block of users, `excluded` what a
    block may not be recommended; `recommend` combines them with the weights. The evaluation
    reuses the same pieces to compare weightings without recomputing the components.
    """

    def __init__(
        self,
        users: UserFeatures,
        projects: ProjectFeatures,
        settings: ScorerSettings | None = None,
        *,
        with_collaborative: bool = True,
    ) -> None:
        self.settings = settings or ScorerSettings()
        self.users = users
        self.projects = projects
        self.item_item = (
            fit_item_item(
                users.known,
                self.settings.collaborative_regularization,
                self.settings.collaborative_max_items,
                self.settings.collaborative_shrinkage,
            )
            if with_collaborative
            else None
        )
        self.eligible = projects.mask(projects.eligible)
        self.popular_active = np.where(
            self.eligible & projects.mask(projects.active), np.asarray(projects.popularity), 0.0
        ).astype(np.float32)
        self.without_signal = users.without_signal()
        self.knows_nothing = users.knows_nothing()
        category_labels = vocabulary(users.categories, projects.categories)
        tech_labels = vocabulary(users.tech_stack, projects.tech_stack)
        self._project_categories = multi_hot(projects.categories, category_labels)
        self._project_tech = multi_hot(projects.tech_stack, tech_labels)
        self._user_categories = multi_hot(users.categories, category_labels)
        self._user_tech = multi_hot(users.tech_stack, tech_labels)

    def components(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Each unweighted component for users `start:stop` against every project."""
        projects = self.projects
        semantic = semantic_similarity(
            self.users.known[start:stop],
            self.users.semantic[start:stop],
            projects.semantic,
            self.settings.semantic_neighbours,
        )
        return {
            "semantic": semantic,
            "category": jaccard(self._user_categories[start:stop], self._project_categories),
            "tech_stack": jaccard(self._user_tech[start:stop], self._project_tech),
            "popularity": np.broadcast_to(
                np.asarray(projects.popularity, dtype=np.float32), semantic.shape
            ),
            "collaborative": self.item_item.scores(self.users.known[start:stop])
            if self.item_item is not None
            else np.zeros(semantic.shape, dtype=np.float32),
        }

    def total(
        self,
        components: dict[str, np.ndarray],
        weights: ScoringWeights,
        start: int,
        stop: int,
        cold_start_weights: ScoringWeights | None = None,
    ) -> np.ndarray:
        """The weighted score.

        Users who know no project are scored with `cold_start_weights` (the content weights;
        their collaborative component is 0 anyway); users without any signal get popular active
        projects instead.
        """

        def weighted(chosen: ScoringWeights) -> np.ndarray:
            return sum(
                (getattr(chosen, name) * components[name] for name in COMPONENTS),
                start=np.zeros(components["semantic"].shape, dtype=np.float32),
            )

        total = weighted(weights)
        if cold_start_weights is not None and self.knows_nothing[start:stop].any():
            total = np.where(
                self.knows_nothing[start:stop, None], weighted(cold_start_weights), total
            )
        return np.where(self.without_signal[start:stop, None], self.popular_active, total)

    def excluded(self, start: int, stop: int) -> np.ndarray:
        """True where a project may not be recommended: already known, or filtered out."""
        return (self.users.known[start:stop].toarray() > 0) | ~self.eligible


def top_ranked(scores: np.ndarray, excluded: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's `n` best allowed scores, best first, ties to the lower index.

    Excluded columns score -inf; callers drop them with `np.isfinite`.
    """
    return _top_n(np.where(excluded, -np.inf, scores), n)


def recommend(
    users: UserFeatures,
    projects: ProjectFeatures,
    weights: ScoringWeights,
    top_n: int,
    min_score: float,
    block_size: int = 2048,
    scorer_settings: ScorerSettings | None = None,
    cold_start_weights: ScoringWeights | None = None,
) -> Recommendations:
    """Score every user against every project and keep each user's best `top_n` above `min_score`.

    Users who know no project are scored with `cold_start_weights` when given (see
    `Scorer.total`). Work is done in blocks of `block_size` users, so memory grows with
    `block_size × len(projects)` (plus the item-item model), never with users × projects.
    """
    started = time.perf_counter()
    scorer = Scorer(users, projects, scorer_settings, with_collaborative=weights.collaborative > 0)
    kept: dict[str, list[np.ndarray]] = {
        name: [] for name in ("user_index", "project_index", "rank", "score", *COMPONENTS)
    }
    for start in range(0, len(users.logins), block_size):
        stop = min(start + block_size, len(users.logins))
        block = scorer.components(start, stop)
        block["score"] = scorer.total(block, weights, start, stop, cold_start_weights)
        excluded = scorer.excluded(start, stop)
        best = top_ranked(block["score"], excluded, top_n)
        best_scores = np.where(
            np.take_along_axis(excluded, best, axis=1),
            -np.inf,
            np.take_along_axis(block["score"], best, axis=1),
        )
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

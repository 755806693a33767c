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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from octorec.embeddings.encoder import available_cores
from octorec.features import multi_hot, vocabulary
from octorec.scoring.collaborative import ItemItemModel, fit_item_item
from octorec.scoring.semantic import semantic_for_pairs, semantic_similarity
from octorec.settings import Retrieval, ScorerSettings, ScoringWeights

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

    def rows(self, selected: np.ndarray) -> UserFeatures:
        """The users where `selected` (a boolean mask) is true, in the same order."""
        index = np.nonzero(selected)[0]
        return UserFeatures(
            logins=[self.logins[i] for i in index.tolist()],
            semantic=self.semantic[index],
            categories=[self.categories[i] for i in index.tolist()],
            tech_stack=[self.tech_stack[i] for i in index.tolist()],
            known=self.known[index],
        )


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


class LabelSets:
    """Every project's label set, each distinct set kept once.

    Jaccard against users is computed per distinct set and spread to the projects by one
    gather: catalogues repeat few sets (most projects have none or one or two labels), so this
    is a few times cheaper than the full users × projects arithmetic, with the same values.
    """

    def __init__(self, projects: sp.csr_matrix) -> None:
        dense = projects.toarray() > 0
        distinct, self.set_of = np.unique(dense, axis=0, return_inverse=True)
        self.set_of = self.set_of.reshape(-1)
        self.distinct = sp.csr_matrix(distinct.astype(np.float32))
        self.projects = dense

    def jaccard(self, users: sp.csr_matrix) -> np.ndarray:
        """Users × projects Jaccard index, as `jaccard(users, projects)`."""
        return np.take(jaccard(users, self.distinct), self.set_of, axis=1)

    def jaccard_pairs(
        self, users: sp.csr_matrix, user_index: np.ndarray, project_index: np.ndarray
    ) -> np.ndarray:
        """The Jaccard index of each (user, project) pair only.

        Each distinct user meets each distinct label set once (a small sparse product), and the
        pairs are gathered from that: no per-pair label arrays.
        """
        values = np.zeros(len(user_index), dtype=np.float32)
        distinct_users, row_of = np.unique(user_index, return_inverse=True)
        row_of = row_of.reshape(-1)
        sets = self.set_of[project_index]
        step = PAIR_USERS_PER_STEP
        for start in range(0, len(distinct_users), step):
            block = jaccard(users[distinct_users[start : start + step]], self.distinct)
            picked = (row_of >= start) & (row_of < start + step)
            values[picked] = block[row_of[picked] - start, sets[picked]]
        return values


PAIR_USERS_PER_STEP = 1024
"""Distinct users whose Jaccard against every distinct label set is held at a time."""


def fit_collaborative(interactions: sp.csr_matrix, settings: ScorerSettings) -> ItemItemModel:
    """The item-item model the scorer uses, fitted on users × projects interactions."""
    return fit_item_item(
        interactions,
        settings.collaborative_regularization,
        settings.collaborative_max_items,
        settings.collaborative_shrinkage,
    )


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
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
        candidates[crowded] = _top_n_with_ties(scores[crowded], k)
        candidate_scores[crowded] = np.take_along_axis(scores[crowded], candidates[crowded], axis=1)
    order = np.lexsort((candidates, -candidate_scores), axis=-1)
    return np.take_along_axis(candidates, order, axis=1)


def _top_n_with_ties(scores: np.ndarray, n: int) -> np.ndarray:
    """`_top_n` for rows with ties at the cut-off.

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
        fit_on: sp.csr_matrix | None = None,
        item_item: ItemItemModel | None = None,
    ) -> None:
        self.settings = settings or ScorerSettings()
        self.users = users
        self.projects = projects
        # The item-item model learns from everyone's interactions (`fit_on`), also when only
        # some users are scored here (one shard): every shard then scores with the same model.
        # A model fitted already (`item_item`, over this catalogue) is used as it is.
        self.item_item = (
            item_item
            if item_item is not None or not with_collaborative
            else fit_collaborative(users.known if fit_on is None else fit_on, self.settings)
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
        self._category_sets = LabelSets(self._project_categories)
        self._tech_sets = LabelSets(self._project_tech)
        self._popularity = np.asarray(projects.popularity, dtype=np.float32)
        self.project_semantic = np.ascontiguousarray(projects.semantic, dtype=np.float32)
        """The projects' semantic vectors as float32 rows (candidate rescoring reads them)."""

    def block_rows(self, arrays: int = 4) -> int:
        """Users per block so that `arrays` users × projects float32 arrays fit the budget."""
        budget = self.settings.block_memory_mb * 2**20
        return max(1, budget // (4 * arrays * max(1, len(self.projects.names))))

    def component(self, name: str, start: int, stop: int) -> np.ndarray:
        """One unweighted component for users `start:stop` against every project."""
        if name == "semantic":
            return semantic_similarity(
                self.users.known[start:stop],
                self.users.semantic[start:stop],
                self.projects.semantic,
                self.settings.semantic_neighbours,
                memory_bytes=self.settings.block_memory_mb * 2**20,
            )
        if name == "category":
            return self._category_sets.jaccard(self._user_categories[start:stop])
        if name == "tech_stack":
            return self._tech_sets.jaccard(self._user_tech[start:stop])
        if name == "popularity":
            return np.broadcast_to(self._popularity, (stop - start, len(self._popularity)))
        if name == "collaborative":
            if self.item_item is None:
                return np.zeros((stop - start, len(self._popularity)), dtype=np.float32)
            return self.item_item.scores(self.users.known[start:stop])
        raise ValueError(f"unknown component {name!r}; expected one of {COMPONENTS}")

    def weighted_block(
        self,
        start: int,
        stop: int,
        weights: ScoringWeights,
        cold_start_weights: ScoringWeights | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """`total(components(...))` computing only the components some weight uses.

        Returns the scores and the components it computed (to read the kept pairs' values
        from). The sums run in the same order as `total`, so the scores are identical.
        """
        cold_rows = np.nonzero(self.knows_nothing[start:stop])[0]
        cold = cold_start_weights if cold_start_weights is not None and len(cold_rows) else None
        shape = (stop - start, len(self.projects.names))
        total = np.zeros(shape, dtype=np.float32)
        cold_total = np.zeros((len(cold_rows), shape[1]), dtype=np.float32)
        computed: dict[str, np.ndarray] = {}
        for name in COMPONENTS:
            weight = getattr(weights, name)
            cold_weight = getattr(cold, name) if cold is not None else 0.0
            if not weight and not cold_weight:
                continue
            value = computed[name] = self.component(name, start, stop)
            if weight:
                total += weight * value
            if cold_weight:
                cold_total += cold_weight * value[cold_rows]
        if cold is not None:
            total[cold_rows] = cold_total
        without_signal = self.without_signal[start:stop]
        if without_signal.any():
            total[without_signal] = self.popular_active
        return total, computed

    def exclude(self, scores: np.ndarray, start: int) -> None:
        """Set to -inf, in place, what users `start:` may not be recommended (see `excluded`)."""
        scores[:, ~self.eligible] = -np.inf
        known = self.users.known[start : start + scores.shape[0]]
        rows = np.repeat(np.arange(scores.shape[0]), np.diff(known.indptr))
        scores[rows, known.indices] = -np.inf

    def pair_components(
        self,
        user_index: np.ndarray,
        project_index: np.ndarray,
        skip: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        """Each unweighted component of the given (user, project) pairs only, except `skip`."""
        result: dict[str, np.ndarray] = {}
        if "semantic" not in skip:
            result["semantic"] = semantic_for_pairs(
                self.users.known,
                self.users.semantic,
                self.projects.semantic,
                self.settings.semantic_neighbours,
                user_index,
                project_index,
            )
        if "category" not in skip:
            result["category"] = self._category_sets.jaccard_pairs(
                self._user_categories, user_index, project_index
            )
        if "tech_stack" not in skip:
            result["tech_stack"] = self._tech_sets.jaccard_pairs(
                self._user_tech, user_index, project_index
            )
        if "popularity" not in skip:
            result["popularity"] = self._popularity[project_index]
        if "collaborative" not in skip:
            result["collaborative"] = self._collaborative_pairs(user_index, project_index)
        return result

    def _collaborative_pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        values = np.zeros(len(user_index), dtype=np.float32)
        if self.item_item is None or len(user_index) == 0:
            return values
        users, position = np.unique(user_index, return_inverse=True)
        step = self.block_rows(arrays=2)
        for start in range(0, len(users), step):
            chunk = users[start : start + step]
            scores = self.item_item.scores(self.users.known[chunk])
            picked = (position >= start) & (position < start + len(chunk))
            values[picked] = scores[position[picked] - start, project_index[picked]]
        return values

    def components(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Each unweighted component for users `start:stop` against every project."""
        return {name: self.component(name, start, stop) for name in COMPONENTS}

    def total(
        self,
        components: dict[str, np.ndarray],
        weights: ScoringWeights,
        start: int,
        stop: int,
        cold_start_weights: ScoringWeights | None = None,
        columns: np.ndarray | None = None,
    ) -> np.ndarray:
        """The weighted score.

        Users who know no project are scored with `cold_start_weights` (the content weights;
        their collaborative component is 0 anyway); users without any signal get popular active
        projects instead. `columns` gives each entry's project when the components hold
        candidates rather than the whole catalogue.
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
        popular = self.popular_active if columns is None else self.popular_active[columns]
        return np.where(self.without_signal[start:stop, None], popular, total)

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
    block_size: int | None = None,
    scorer_settings: ScorerSettings | None = None,
    cold_start_weights: ScoringWeights | None = None,
    fit_on: sp.csr_matrix | None = None,
    item_item: ItemItemModel | None = None,
) -> Recommendations:
    """Score users against projects and keep each user's best `top_n` above `min_score`.

    `RECOMMENDATION_RETRIEVAL=exact` (default) scores every user against every project in blocks
    of users sized to `RECOMMENDATION_BLOCK_MEMORY_MB` (or `block_size` users), so memory grows
    with the block, never with users × projects; `ann` rescores, with the same formula, only the
    candidates an approximate nearest-neighbour index and the collaborative model propose
    (`octorec.scoring.retrieval`). Users who know no project are scored with
    `cold_start_weights` when given (see `Scorer.total`). `fit_on` is the interaction matrix
    the item-item model learns from when it is not these users' own (scoring one shard);
    `item_item` a model fitted already over these projects (scoring a chunk of them).
    """
    started = time.perf_counter()
    scorer = Scorer(
        users,
        projects,
        scorer_settings,
        with_collaborative=weights.collaborative > 0,
        fit_on=fit_on,
        item_item=item_item,
    )
    if scorer.settings.retrieval == Retrieval.ANN:
        from octorec.scoring.retrieval import recommend_from_candidates

        result = recommend_from_candidates(scorer, weights, top_n, min_score, cold_start_weights)
    else:
        result = recommend_exact(scorer, weights, top_n, min_score, block_size, cold_start_weights)
    logger.info(
        "scored %d users × %d projects (%s) in %.2f s, kept %d recommendations",
        len(users.logins),
        len(projects.names),
        scorer.settings.retrieval,
        time.perf_counter() - started,
        len(result),
    )
    return result


def recommend_exact(
    scorer: Scorer,
    weights: ScoringWeights,
    top_n: int,
    min_score: float,
    block_size: int | None,
    cold_start_weights: ScoringWeights | None,
) -> Recommendations:
    users = len(scorer.users.logins)
    workers = max(1, min(available_cores(), users))
    rows = block_size or max(1, min(scorer.block_rows(arrays=6) // workers, -(-users // workers)))
    starts = range(0, users, rows)

    def score_block(start: int) -> RecommendationParts:
        stop = min(start + rows, users)
        total, computed = scorer.weighted_block(start, stop, weights, cold_start_weights)
        scorer.exclude(total, start)
        parts = RecommendationParts()
        parts.add(scorer, start, total, _top_n(total, top_n), min_score, computed)
        return parts

    if workers == 1:
        return RecommendationParts.joined([score_block(start) for start in starts])
    # Blocks run side by side, one core each: NumPy's element-wise passes and partial sorts
    # release the GIL, and one BLAS thread per block avoids oversubscribing the cores.
    with threadpool_limits(1, "blas"), ThreadPoolExecutor(workers) as pool:
        return RecommendationParts.joined(list(pool.map(score_block, starts)))


class RecommendationParts:
    """Kept pairs collected block by block, then joined into one `Recommendations`."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {
            name: [] for name in ("user_index", "project_index", "rank", "score", *COMPONENTS)
        }

    def add(
        self,
        scorer: Scorer,
        start: int,
        scores: np.ndarray,
        best: np.ndarray,
        min_score: float,
        computed: dict[str, np.ndarray],
        columns: np.ndarray | None = None,
    ) -> None:
        """Keep the finite scores above `min_score` among each row's `best` columns.

        `columns` maps a row's columns to catalogue projects when `scores` holds candidates
        rather than the whole catalogue. Components in `computed` (aligned with `scores`) are
        read at the kept pairs; the others are computed for those pairs only.
        """
        best_scores = np.take_along_axis(scores, best, axis=1)
        keep = np.isfinite(best_scores) & (best_scores >= min_score)
        local_rows = np.nonzero(keep)[0]
        local_columns = best[keep]
        projects = local_columns if columns is None else columns[local_rows, local_columns]
        users = local_rows + start
        self.parts["user_index"].append(users)
        self.parts["project_index"].append(projects)
        self.parts["rank"].append(np.cumsum(keep, axis=1)[keep])
        self.parts["score"].append(best_scores[keep])
        for name, value in computed.items():
            self.parts[name].append(np.asarray(value[local_rows, local_columns], dtype=np.float32))
        others = scorer.pair_components(users, projects, skip=frozenset(computed))
        for name, value in others.items():
            self.parts[name].append(value)

    @classmethod
    def joined(cls, blocks: Sequence[RecommendationParts]) -> Recommendations:
        """The blocks' kept pairs, in block order."""
        everything = cls()
        for block in blocks:
            for name, parts in block.parts.items():
                everything.parts[name].extend(parts)
        return everything.result()

    def result(self) -> Recommendations:
        """Everything kept, in the order added."""
        empty = {"user_index": np.int64, "project_index": np.int64, "rank": np.int64}
        return Recommendations(
            **{
                name: np.concatenate(parts) if parts else np.zeros(0, empty.get(name, np.float32))
                for name, parts in self.parts.items()
            }
        )


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

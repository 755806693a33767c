"""Candidate generation for very large catalogues, then exact rescoring of the candidates.

An approximate nearest-neighbour index (usearch HNSW, inner product) holds one vector per
project: its semantic vector, unit category and tech-stack blocks and its popularity. A user's
query vector carries the same blocks multiplied by the weights, so the inner product is
`w_sem·cos + w_cat·cos(categories) + w_tech·cos(tech stack) + w_pop·pop`: the linear part of
the score, with set cosine for Jaccard (the hybrid embeddings' construction). Each user gets the
index's best `ann_candidates` projects plus the same number of their best collaborative ones
(the item-item model has no vector form); users without any signal get the most popular active
projects. The union is rescored with the exact formula (`Scorer.pair_components`), so only the
choice of candidates is approximate.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from octorec.embeddings.encoder import available_cores
from octorec.scoring.similarity import (
    COMPONENTS,
    RecommendationParts,
    Recommendations,
    Scorer,
    _top_n,
)
from octorec.settings import ScoringWeights

logger = logging.getLogger(__name__)

CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256
USER_CHUNK = 1024
"""Users searched and rescored at a time."""


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def project_vectors(scorer: Scorer) -> np.ndarray:
    """The indexed vector of every project: semantic ⊕ categories ⊕ tech stack ⊕ popularity."""
    return np.hstack(
        [
            scorer.projects.semantic.astype(np.float32),
            _unit_rows(scorer._category_sets.projects.astype(np.float32)),
            _unit_rows(scorer._tech_sets.projects.astype(np.float32)),
            scorer._popularity.reshape(-1, 1),
        ]
    ).astype(np.float32)


def query_vectors(scorer: Scorer, users: np.ndarray, weights: ScoringWeights) -> np.ndarray:
    """Users' query vectors: their blocks scaled by `weights`, so that the inner product with a
    project vector is the linear part of the score."""
    semantic = scorer.users.semantic[users].astype(np.float32)
    categories = _unit_rows(scorer._user_categories[users].toarray().astype(np.float32))
    tech = _unit_rows(scorer._user_tech[users].toarray().astype(np.float32))
    popularity = np.ones((len(users), 1), dtype=np.float32)
    return np.hstack(
        [
            weights.semantic * semantic,
            weights.category * categories,
            weights.tech_stack * tech,
            weights.popularity * popularity,
        ]
    ).astype(np.float32)


class CandidateIndex:
    """The projects' vectors in a usearch HNSW index searched by inner product."""

    def __init__(self, scorer: Scorer, threads: int = 0) -> None:
        from usearch.index import Index

        started = time.perf_counter()
        self.threads = threads or available_cores()
        vectors = project_vectors(scorer)
        self.index = Index(
            ndim=vectors.shape[1],
            metric="ip",
            dtype="f32",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        self.index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=self.threads)
        self.seconds = time.perf_counter() - started
        logger.info("indexed %d projects in %.1f s", len(vectors), self.seconds)

    def search(self, queries: np.ndarray, count: int) -> np.ndarray:
        """Each query's `count` best projects (-1 where the index returned fewer)."""
        matches = self.index.search(queries, count, threads=self.threads)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(queries), -1)
        counts = np.asarray(getattr(matches, "counts", [len(keys[0])]))
        found = np.arange(keys.shape[1]) < counts.reshape(-1, 1)
        return np.where(found, keys, -1)


def candidates(
    scorer: Scorer,
    index: CandidateIndex,
    users: np.ndarray,
    weights: ScoringWeights,
    cold_start_weights: ScoringWeights | None,
    count: int,
) -> np.ndarray:
    """Users × candidates project indices (-1 pads): index neighbours ∪ collaborative best."""
    cold = scorer.knows_nothing[users]
    queries = query_vectors(scorer, users, weights)
    if cold_start_weights is not None and cold.any():
        queries[cold] = query_vectors(scorer, users[cold], cold_start_weights)
    parts = [index.search(queries, count)]
    if scorer.item_item is not None and weights.collaborative > 0:
        collaborative = scorer.item_item.scores(scorer.users.known[users])
        parts.append(np.argpartition(-collaborative, count - 1, axis=1)[:, :count])
    without_signal = scorer.without_signal[users]
    if without_signal.any():
        popular = np.argsort(-scorer.popular_active, kind="stable")[:count]
        parts.append(np.where(without_signal[:, None], popular[None, :], -1))
    return _unique_rows(np.hstack(parts))


def _unique_rows(matrix: np.ndarray) -> np.ndarray:
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


def recommend_from_candidates(
    scorer: Scorer,
    weights: ScoringWeights,
    top_n: int,
    min_score: float,
    cold_start_weights: ScoringWeights | None = None,
) -> Recommendations:
    """`recommend` with candidates from the index, each rescored exactly."""
    index = CandidateIndex(scorer)
    kept = RecommendationParts()
    count = min(scorer.settings.ann_candidates, len(scorer.projects.names))
    for start in range(0, len(scorer.users.logins), USER_CHUNK):
        users = np.arange(start, min(start + USER_CHUNK, len(scorer.users.logins)))
        columns = candidates(scorer, index, users, weights, cold_start_weights, count)
        scores = _rescore(scorer, users, columns, weights, cold_start_weights)
        kept.add(scorer, start, scores, _top_n(scores, top_n), min_score, {}, columns)
    return kept.result()


def _rescore(
    scorer: Scorer,
    users: np.ndarray,
    columns: np.ndarray,
    weights: ScoringWeights,
    cold_start_weights: ScoringWeights | None,
) -> np.ndarray:
    """The exact score of every (user, candidate); -inf for padding and excluded projects."""
    rows, slots = np.nonzero(columns >= 0)
    user_index = users[rows]
    project_index = columns[rows, slots]
    components = scorer.pair_components(user_index, project_index)
    cold = scorer.knows_nothing[user_index] & (cold_start_weights is not None)
    chosen = cold_start_weights if cold_start_weights is not None else weights
    score = np.zeros(len(rows), dtype=np.float32)
    cold_score = np.zeros(len(rows), dtype=np.float32)
    for name in COMPONENTS:
        score += getattr(weights, name) * components[name]
        cold_score += getattr(chosen, name) * components[name]
    score = np.where(cold, cold_score, score)
    score = np.where(scorer.without_signal[user_index], scorer.popular_active[project_index], score)
    known = np.asarray(scorer.users.known[user_index, project_index]).reshape(-1) > 0
    allowed = scorer.eligible[project_index] & ~known
    result = np.full(columns.shape, -np.inf, dtype=np.float32)
    result[rows, slots] = np.where(allowed, score, -np.inf)
    return result

"""The models an evaluation compares: octorec's scorer under given weights, and the baselines.

Every model produces a users × projects score matrix for the evaluated users; one ranking step
(`octorec.scoring.ranking.top_ranked`, with the scorer's exclusions: known projects and those
the candidate filters drop) turns any of them into top-k lists, so the models differ only in how
they score.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from octorec.scoring.ranking import top_ranked
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.scorer import Scorer
from octorec.settings import ScoringWeights

logger = logging.getLogger(__name__)


def weighted_total(
    scorer: Scorer,
    components: Mapping[str, np.ndarray],
    weights: ScoringWeights,
    cold_start_weights: ScoringWeights | None = None,
) -> np.ndarray:
    """octorec's score for every user in `components` (all of the scorer's users)."""
    return scorer.total(dict(components), weights, 0, len(scorer.users.logins), cold_start_weights)


def popularity_scores(known: sp.csr_matrix) -> np.ndarray:
    """Most popular first: how many training users know each project (the classic MostPop)."""
    counts = np.asarray(known.sum(axis=0), dtype=np.float32).ravel()
    return np.broadcast_to(counts, known.shape).copy()


def semantic_scores(scorer: Scorer, *, clip: bool = False) -> np.ndarray:
    """Cosine between the user's vector and each project (negative cosines 0 when `clip`).

    The user's vector is the mean embedding of their projects, blended with their profile text
    when they wrote one (`USER_PROFILE_WEIGHT`), as `user_embeddings` builds it.
    """
    cosine = np.asarray(scorer.users.semantic @ scorer.projects.semantic.T, dtype=np.float32)
    return np.maximum(cosine, 0.0) if clip else cosine


def als_scores(known: sp.csr_matrix, factors: int, seed: int) -> np.ndarray:
    """implicit's alternating least squares (Hu, Koren, Volinsky 2008) on the training matrix."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    # implicit parallelises itself; a second BLAS thread pool underneath only contends.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors, iterations=15, random_state=seed, num_threads=_threads()
        )
        model.fit(known.astype(np.float32).tocsr(), show_progress=False)
    return np.asarray(model.user_factors @ model.item_factors.T, dtype=np.float32)


def item_knn_scores(known: sp.csr_matrix, neighbours: int) -> np.ndarray:
    """implicit's BM25-weighted item-item nearest neighbours on the training matrix."""
    from implicit.nearest_neighbours import BM25Recommender

    model = BM25Recommender(K=neighbours, num_threads=_threads())
    with warnings.catch_warnings():
        # implicit converts its own BM25-weighted COO matrix and warns about it.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model.fit(known.astype(np.float32).tocsr(), show_progress=False)
    return np.asarray((known @ model.similarity).todense(), dtype=np.float32)


def _threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def component_matrices(scorer: Scorer) -> dict[str, np.ndarray]:
    """Every unweighted component for all of the scorer's users."""
    components = scorer.components(0, len(scorer.users.logins))
    return {name: np.asarray(components[name]) for name in COMPONENTS}


def top_lists(
    scores: np.ndarray,
    excluded: np.ndarray,
    rows: Sequence[int],
    names: Sequence[str],
    k: int,
) -> list[list[str]]:
    """The top-k project names of each of `rows`, lower-cased, with excluded projects left out."""
    picked = np.asarray(rows, dtype=np.int64)
    best = top_ranked(scores[picked], excluded[picked], k)
    allowed = ~np.take_along_axis(excluded[picked], best, axis=1)
    return [
        [names[j].lower() for j, ok in zip(row, keep, strict=True) if ok]
        for row, keep in zip(best.tolist(), allowed.tolist(), strict=True)
    ]

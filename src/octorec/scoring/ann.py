"""Candidate generation for very large catalogues, then exact rescoring of the candidates.

An approximate nearest-neighbour index (faiss inverted file, inner product) holds one vector per
project: its semantic vector, unit category and tech-stack blocks and its popularity, each block
times √w, w the weight's share of all the weights (`COMPONENTS.shares`; blocks whose weight is 0
left out): the hybrid embeddings' construction. A user's query vector is built the same way
(popularity: 1), so the inner product is `w_sem·cos + w_cat·cos(categories) + w_tech·cos(tech stack)
+ w_pop·pop`: the linear part of the score, with set cosine for Jaccard. The index clusters the
projects (k-means, `lists` cells) and a query scans the `PROBES` cells nearest to it; large
catalogues keep 4-bit codes in the cells and re-rank the best codes by the exact inner product
(`CandidateIndex`), and a small catalogue has so few cells that every one is scanned. Users who know
no project search a second index built with the cold-start weights. Each user gets the index's best
`ann_candidates` projects plus as many of their best collaborative ones (the item-item model has no
vector form); users without any signal get the most popular active projects. The union is rescored
with the exact formula (`Scorer.pair_components`), so only the choice of candidates is approximate.
The index's blocks are those of the registered components that have a vector form
(`ComponentScores.project_block`), in registry order.

Measured at 100,000 users × 125,000 projects (docs/performance.md): an HNSW graph (usearch)
recalled 0.887 of the exact top 5 in 126 s; IVF-Flat with 48 of 1,024 cells probed 0.961 in
73.5 s; 4-bit codes with 64 cells probed, re-ranked, 0.962 in a fraction of that (README).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from octorec.cores import available_cores
from octorec.features import weighted_blocks
from octorec.scoring import ranking
from octorec.scoring.recommender import Recommender
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.results import RecommendationParts, Recommendations
from octorec.scoring.scorer import Scorer, Weights

logger = logging.getLogger(__name__)

MAX_LISTS = 1024
"""Cells of the IVF index at most; a catalogue gets one per `PROJECTS_PER_LIST` projects."""
PROJECTS_PER_LIST = 100
PROBES = 64
"""Cells scanned per query (at 125,000 projects, 20,000 users: recall@5 0.963; 48: 0.955)."""
QUANTISE_FROM = 20_000
"""Eligible projects from which the cells hold 4-bit codes rather than float vectors."""
DIMS_PER_CODE = 2
"""Vector dimensions per 4-bit product-quantisation code."""
REFINE_FACTOR = 3
"""Quantised candidates re-ranked by the exact inner product, per candidate asked for."""
TRAINING_PER_LIST = 40
"""Projects sampled per cell to train the k-means (faiss asks for at least 39)."""
KMEANS_ITERATIONS = 5
"""k-means passes (faiss's default 10 builds 1.3× slower for the same recall here)."""
USER_CHUNK = 1024
"""Users searched and rescored at a time (256: 10% slower at 100,000 users, Python overhead)."""


def _blocks(
    scorer: Scorer,
    weights: Weights,
    side: str,
    selector: np.ndarray | slice,
    width: int = 0,
) -> np.ndarray:
    """√w-weighted blocks of the components with a vector form, those with weight 0 left out
    (`octorec.features.weighted_blocks`, as the hybrid embeddings), zero-padded to `width`.

    `side` "project" takes the projects at `selector`, "query" the users at `selector`. When no
    such component is weighted (only the collaborative term is), the fallback component (the
    semantic one) is used with weight 1.
    """
    values = COMPONENTS.shares(weights)
    parts: list[tuple[float, np.ndarray, bool, bool]] = []
    for component in COMPONENTS.declarations():
        scores = scorer.scores[component.name]
        if side == "project":
            block = scores.project_block(selector)
        else:
            block = scores.query_block(np.asarray(selector))
        if block is not None:
            parts.append(
                (values[component.name], block, scores.unit_block, component.index_fallback)
            )
    if not any(weight > 0 for weight, _, _, _ in parts):
        parts = [(1.0, block, unit, True) for _, block, unit, fallback in parts if fallback]
    return weighted_blocks([(w, block, unit) for w, block, unit, _ in parts], width=width)


def vector_width(scorer: Scorer, weights: Weights) -> int:
    """How many values `project_vectors` and `query_vectors` have (before padding)."""
    return _blocks(scorer, weights, "project", slice(0, 0)).shape[1]


def project_vectors(
    scorer: Scorer, weights: Weights, projects: np.ndarray | None = None, width: int = 0
) -> np.ndarray:
    """The indexed vector of each project (all, or those at `projects`): the √w-weighted blocks
    (semantic ⊕ categories ⊕ tech stack ⊕ popularity by default), zero-padded to `width`.
    Projects and users are built the same way, so the inner product of a project and a query is
    the score's linear part."""
    chosen: np.ndarray | slice = slice(None) if projects is None else projects
    return _blocks(scorer, weights, "project", chosen, width)


def query_vectors(
    scorer: Scorer, users: np.ndarray, weights: Weights, width: int = 0
) -> np.ndarray:
    """Users' query vectors, built like `project_vectors` (popularity: 1), so the inner product
    with a project vector is the linear part of the score."""
    return _blocks(scorer, weights, "query", users, width)


class CandidateIndex:
    """The eligible projects' vectors in a faiss inverted-file index searched by inner product.

    Catalogues of `QUANTISE_FROM` projects or more keep 4-bit product-quantised codes in the
    cells (faiss "fast scan": SIMD lookups instead of float arithmetic, ~5× faster to scan) and
    re-rank `REFINE_FACTOR` times the asked-for count by the exact inner product; smaller ones
    keep the float vectors themselves (exact within the scanned cells).
    """

    def __init__(self, scorer: Scorer, weights: Weights) -> None:
        import faiss

        started = time.perf_counter()
        self.weights = weights
        # Only projects that may be recommended: filtered-out ones would waste candidates.
        self.projects = np.nonzero(scorer.eligible)[0]
        lists = max(1, min(MAX_LISTS, len(self.projects) // PROJECTS_PER_LIST))
        self.quantised = len(self.projects) >= QUANTISE_FROM
        # Product quantisation cuts vectors into `DIMS_PER_CODE`-wide pieces: zero-pad to fit.
        step = 2 * DIMS_PER_CODE
        self.dimensions = -(-vector_width(scorer, weights) // step) * step
        codes = f"PQ{self.dimensions // DIMS_PER_CODE}x4fs,RFlat" if self.quantised else "Flat"
        self.index = faiss.index_factory(
            self.dimensions, f"IVF{lists},{codes}", faiss.METRIC_INNER_PRODUCT
        )
        self.cells = faiss.extract_index_ivf(self.index)
        self.cells.cp.niter = KMEANS_ITERATIONS
        indexed = project_vectors(scorer, weights, self.projects, self.dimensions)
        with threadpool_limits(available_cores()):
            sample = np.random.default_rng(0).permutation(len(indexed))[: lists * TRAINING_PER_LIST]
            if len(indexed):
                self.index.train(indexed[np.sort(sample)])
                self.index.add(indexed)
        self.cells.nprobe = min(PROBES, lists)
        if self.quantised:
            self.index.k_factor = REFINE_FACTOR  # type: ignore[attr-defined]  # IndexRefineFlat
        self.seconds = time.perf_counter() - started
        logger.info(
            "indexed %d projects in %d cells (%s) in %.1f s",
            len(indexed),
            lists,
            "4-bit codes, exact re-ranking" if self.quantised else "float vectors",
            self.seconds,
        )

    def search(self, scorer: Scorer, users: np.ndarray, count: int) -> np.ndarray:
        """Each user's `count` best projects (-1 where the index returned fewer)."""
        if not len(self.projects):
            return np.full((len(users), count), -1, dtype=np.int64)
        queries = query_vectors(scorer, users, self.weights, self.dimensions)
        _, found = self.index.search(queries, count)
        return np.where(found >= 0, self.projects[np.maximum(found, 0)], -1)


class IndexCache:
    """Indexes by weighting, built on first use and kept for every later scoring against the
    same catalogue (a request-time scorer finds the index the first request built).

    `base` is the scorer indexes are built from: one over the catalogue with its own
    candidate filters, so an index never depends on the filters of the call that built it.
    """

    def __init__(self, base: Callable[[], Scorer]) -> None:
        self._base = base
        self._indexes: dict[tuple[tuple[str, float], ...], CandidateIndex] = {}
        self._lock = threading.Lock()

    def get(self, weights: Weights) -> CandidateIndex:
        """The index for `weights`, built now unless it was already."""
        key = tuple(COMPONENTS.weights(weights).items())
        with self._lock:
            if key not in self._indexes:
                self._indexes[key] = CandidateIndex(self._base(), weights)
            return self._indexes[key]


class Indexes:
    """The index for the scoring weights, and one for the cold-start weights made on demand."""

    def __init__(
        self,
        build: Callable[[Weights], CandidateIndex],
        main: CandidateIndex,
        cold_start_weights: Weights | None,
    ) -> None:
        self.build = build
        self.main = main
        self.cold_start_weights = cold_start_weights or main.weights
        self._cold: CandidateIndex | None = None
        self._lock = threading.Lock()

    def for_cold_start(self) -> CandidateIndex:
        """The index searched for users who know no project."""
        with self._lock:
            if self._cold is None:
                same = COMPONENTS.weights(self.cold_start_weights) == COMPONENTS.weights(
                    self.main.weights
                )
                self._cold = self.main if same else self.build(self.cold_start_weights)
            return self._cold


def candidates(
    scorer: Scorer,
    indexes: Indexes,
    users: np.ndarray,
    count: int,
    collaborative: np.ndarray | None,
) -> np.ndarray:
    """Users × candidates project indices (-1 pads): index neighbours ∪ collaborative best.

    `collaborative` holds the users' item-item scores over the modelled items, if any.
    """
    cold = scorer.knows_nothing[users]
    found = np.full((len(users), count), -1, dtype=np.int64)
    if (~cold).any():
        found[~cold] = indexes.main.search(scorer, users[~cold], count)
    if cold.any():
        found[cold] = indexes.for_cold_start().search(scorer, users[cold], count)
    parts = [found]
    if collaborative is not None and collaborative.shape[1] and scorer.item_item is not None:
        best = ranking.best_positive_columns(collaborative, count)
        parts.append(np.where(best >= 0, scorer.item_item.items[np.maximum(best, 0)], -1))
    without_signal = scorer.without_signal[users]
    if without_signal.any():
        popular = np.argsort(-scorer.popular_active, kind="stable")[:count]
        parts.append(np.where(without_signal[:, None], popular[None, :], -1))
    return ranking.unique_rows(np.hstack(parts))


class AnnRecommender(Recommender):
    """Candidates from the index (one per distinct weighting, built on first use), rescored
    exactly, `USER_CHUNK` users at a time side by side."""

    def __init__(self, scorer: Scorer, indexes: IndexCache | None = None) -> None:
        super().__init__(scorer)
        self._indexes = indexes or IndexCache(lambda: scorer)

    def index_for(self, weights: Weights) -> CandidateIndex:
        """The index for `weights`, built now unless it was already (benchmarks time it)."""
        return self._indexes.get(weights)

    def recommend(
        self,
        weights: Weights,
        top_n: int,
        min_score: float,
        cold_start_weights: Weights | None = None,
    ) -> Recommendations:
        """The kept pairs, best first per user (see `Recommender.recommend`)."""
        scorer = self.scorer
        indexes = Indexes(self.index_for, self.index_for(weights), cold_start_weights)
        count = min(scorer.settings.ann_candidates, scorer.project_count)
        positions = scorer.item_item.position_of() if scorer.item_item is not None else None

        def chunk(start: int) -> RecommendationParts:
            users = np.arange(start, min(start + USER_CHUNK, scorer.user_count))
            collaborative = (
                scorer.item_item.scores_of_items(scorer.users.known[users])
                if scorer.item_item is not None
                else None
            )
            columns = candidates(scorer, indexes, users, count, collaborative)
            scores, components = _rescore(
                scorer, users, columns, weights, cold_start_weights, collaborative, positions
            )
            parts = RecommendationParts()
            best = ranking.top_n(scores, top_n)
            parts.add(scorer, start, scores, best, min_score, components, columns)
            return parts

        starts = range(0, scorer.user_count, USER_CHUNK)
        if len(starts) <= 1:  # one chunk (a request's user): no pool to start
            return RecommendationParts.joined([chunk(start) for start in starts])
        # Chunks run side by side, one core each: one BLAS and one OpenMP (faiss) thread each.
        with threadpool_limits(1), ThreadPoolExecutor(available_cores()) as pool:
            return RecommendationParts.joined(list(pool.map(chunk, starts)))


def inner_products_by_index(
    queries: np.ndarray, vectors: np.ndarray, columns: np.ndarray
) -> np.ndarray:
    """`queries[i] · vectors[columns[i, j]]` for every (i, j), -inf where the column is -1.

    faiss reads the rows where they lie: gathering them into a new array first and multiplying
    costs ~4× as long (the copy is most of it).
    """
    import faiss

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    result = np.empty(columns.shape, dtype=np.float32)
    faiss.fvec_inner_products_by_idx(  # type: ignore[attr-defined]  # not in faiss's stubs
        faiss.swig_ptr(result),
        faiss.swig_ptr(queries),
        faiss.swig_ptr(vectors),
        faiss.swig_ptr(columns),
        queries.shape[1],
        columns.shape[0],
        columns.shape[1],
    )
    return result


def _rescore(
    scorer: Scorer,
    users: np.ndarray,
    columns: np.ndarray,
    weights: Weights,
    cold_start_weights: Weights | None,
    collaborative: np.ndarray | None,
    positions: np.ndarray | None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The exact score (`Scorer.total`) and components of every (user, candidate) for the
    consecutive `users`; -inf for padding and for excluded projects."""
    valid = columns >= 0
    rows, slots = np.nonzero(valid)
    user_index = users[rows]
    project_index = columns[rows, slots]
    skip = {"collaborative"}
    if scorer.settings.semantic_neighbours <= 0:
        skip.add("semantic")
    components = scorer.pair_components(user_index, project_index, skip=frozenset(skip))
    if "semantic" in skip:
        cosines = inner_products_by_index(
            scorer.users.semantic[users], scorer.project_semantic, columns
        )
        components["semantic"] = np.maximum(cosines[rows, slots], 0.0, dtype=np.float32)
    components["collaborative"] = np.zeros(len(rows), dtype=np.float32)
    if collaborative is not None and positions is not None:
        position = positions[project_index]
        modelled = position >= 0
        components["collaborative"][modelled] = collaborative[rows[modelled], position[modelled]]
    matrices = {}
    for name, values in components.items():
        matrix = np.zeros(columns.shape, dtype=np.float32)
        matrix[rows, slots] = values
        matrices[name] = matrix
    projects = np.where(valid, columns, 0)
    total = scorer.total(
        matrices, weights, int(users[0]), int(users[-1]) + 1, cold_start_weights, projects
    )
    known = np.asarray(scorer.never_recommended[user_index, project_index]).reshape(-1) > 0
    allowed = np.zeros(columns.shape, dtype=bool)
    allowed[rows, slots] = scorer.eligible[project_index] & ~known
    result = np.where(allowed, total, -np.inf).astype(np.float32)
    return result, matrices

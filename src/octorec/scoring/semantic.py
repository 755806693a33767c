"""The semantic component: how close in meaning a project is to what the user already knows.

For a user who knows projects, it is the mean of the `neighbours` highest cosines between the
candidate and the user's known projects (item-based nearest neighbours over the embeddings): a
user with several distinct interests matches each of them, where the cosine to one mean vector
would blur them together. A user who knows no project is matched by their own vector (their
profile text), and a user with neither gets 0. Negative cosines count as 0.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

KNOWN_CHUNK = 256
"""Known projects compared with the catalogue at a time."""

SHARED_COSINES_BYTES = 256 * 2**20
"""Largest known projects × catalogue cosine matrix computed once and shared by a block's users."""

CATALOGUE_COSINES_BYTES = 256 * 2**20
"""Largest catalogue × catalogue cosine matrix a `ScoringContext` computes once (8,192 projects):
a request's known projects are then rows to gather, not a product with the whole catalogue."""

PAIR_CHUNK = 32_768
"""(user, project) pairs whose vectors are gathered at a time."""


def catalogue_cosines(project_vectors: np.ndarray, memory_bytes: int) -> np.ndarray | None:
    """Every project's cosine to every other, when the matrix fits in `memory_bytes`."""
    count = project_vectors.shape[0]
    if count == 0 or count * count * 4 > memory_bytes:
        return None
    vectors = np.ascontiguousarray(project_vectors, dtype=np.float32)
    return vectors @ vectors.T


def semantic_similarity(
    known: sp.csr_matrix,
    user_vectors: np.ndarray,
    project_vectors: np.ndarray,
    neighbours: int,
    memory_bytes: int = SHARED_COSINES_BYTES,
    cosines: np.ndarray | None = None,
) -> np.ndarray:
    """Users (rows of `known`) × projects semantic similarity, in [0, 1].

    `project_vectors` and `user_vectors` are unit-length (or zero) rows; `neighbours` 0 uses the
    user's vector for everyone (the cosine to their mean project vector). When the cosines of
    every project these users know against the catalogue fit in `memory_bytes`, they are
    computed once and shared (users know many of the same projects), or read from `cosines`,
    the whole catalogue's (`catalogue_cosines`), when given; otherwise per user.
    """
    if neighbours <= 0 or known.nnz == 0:
        return np.maximum(user_vectors @ project_vectors.T, 0.0, dtype=np.float32)
    # Users who know projects are matched by their neighbours: only the others need their own
    # vector's cosines.
    result = np.zeros((known.shape[0], project_vectors.shape[0]), dtype=np.float32)
    alone = np.flatnonzero(np.diff(known.indptr) == 0)
    if len(alone):
        result[alone] = np.maximum(user_vectors[alone] @ project_vectors.T, 0.0)
    if cosines is not None:
        # The catalogue's cosines: a user's rows are read from it directly.
        _shared_neighbours(known, known.indices, cosines, neighbours, result)
        return result
    union = np.unique(known.indices)
    if len(union) * project_vectors.shape[0] * 4 <= memory_bytes:
        _shared_neighbours(
            known,
            np.searchsorted(union, known.indices),
            project_vectors[union] @ project_vectors.T,
            neighbours,
            result,
        )
    else:
        _per_user_neighbours(known, project_vectors, neighbours, result)
    return result


def _shared_neighbours(
    known: sp.csr_matrix,
    positions: np.ndarray,
    cosines: np.ndarray,
    neighbours: int,
    result: np.ndarray,
) -> None:
    # `cosines`: rows × catalogue, the row of each known project at `positions` (aligned with
    # `known.indices`); a user's rows are gathered and partially sorted down the rows (faster
    # than turning them first).
    for row in range(known.shape[0]):
        mine = positions[known.indptr[row] : known.indptr[row + 1]]
        if len(mine) == 0:
            continue
        count = min(neighbours, len(mine))
        cut = len(mine) - count
        candidates = cosines[mine]  # a copy already: partitioned in place
        if cut:
            candidates.partition(cut, axis=0)
        best = candidates[cut:]
        result[row] = np.maximum(best.mean(axis=0), 0.0)


def _per_user_neighbours(
    known: sp.csr_matrix, project_vectors: np.ndarray, neighbours: int, result: np.ndarray
) -> None:
    for row in range(known.shape[0]):
        items = known.indices[known.indptr[row] : known.indptr[row + 1]]
        if len(items) == 0:
            continue
        count = min(neighbours, len(items))
        best = np.empty((project_vectors.shape[0], 0), dtype=np.float32)
        # Known projects in chunks, keeping a running top `count` per candidate: memory stays
        # at projects × (count + chunk) however many projects a user knows.
        for start in range(0, len(items), KNOWN_CHUNK):
            chunk = project_vectors @ project_vectors[items[start : start + KNOWN_CHUNK]].T
            best = _best(np.hstack([best, chunk.astype(np.float32)]), count)
        result[row] = np.maximum(best.mean(axis=1), 0.0)


def _best(candidates: np.ndarray, count: int) -> np.ndarray:
    """Each row's `count` largest values (in no order)."""
    cut = candidates.shape[1] - min(count, candidates.shape[1])
    return np.partition(candidates, cut, axis=1)[:, cut:] if cut else candidates


def semantic_for_pairs(
    known: sp.csr_matrix,
    user_vectors: np.ndarray,
    project_vectors: np.ndarray,
    neighbours: int,
    user_index: np.ndarray,
    project_index: np.ndarray,
) -> np.ndarray:
    """`semantic_similarity` of the given (user, project) pairs only, one value per pair.

    The cost grows with the pairs and the projects each of their users knows, not with the
    catalogue: what candidate rescoring needs.
    """
    result = np.empty(len(user_index), dtype=np.float32)
    for start in range(0, len(user_index), PAIR_CHUNK):
        chunk = slice(start, start + PAIR_CHUNK)
        dots = np.einsum(
            "ij,ij->i", user_vectors[user_index[chunk]], project_vectors[project_index[chunk]]
        )
        result[chunk] = np.maximum(dots, 0.0)
    if neighbours <= 0 or len(user_index) == 0:
        return result
    order = np.argsort(user_index, kind="stable")
    users, starts = np.unique(user_index[order], return_index=True)
    bounds = np.append(starts, len(order))
    for user, begin, end in zip(
        users.tolist(), bounds[:-1].tolist(), bounds[1:].tolist(), strict=True
    ):
        items = known.indices[known.indptr[user] : known.indptr[user + 1]]
        if len(items) == 0:
            continue
        pairs = order[begin:end]
        cosines = project_vectors[items] @ project_vectors[project_index[pairs]].T
        count = min(neighbours, len(items))
        best = np.partition(cosines, len(items) - count, axis=0)[len(items) - count :]
        result[pairs] = np.maximum(best.mean(axis=0), 0.0)
    return result


class SemanticScores:
    """The semantic component of a run: users' known projects and vectors against the projects'.

    In the approximate index its block is the unit semantic vector itself, so the inner product
    of a user's and a project's block is their cosine.
    """

    unit_block = False

    def __init__(
        self,
        known: sp.csr_matrix,
        user_vectors: np.ndarray,
        project_vectors: np.ndarray,
        neighbours: int,
        memory_bytes: int,
        cosines: np.ndarray | None = None,
    ) -> None:
        self.known = known
        self.user_vectors = user_vectors
        self.project_vectors = project_vectors
        self.neighbours = neighbours
        self.memory_bytes = memory_bytes
        self.cosines = cosines
        """The catalogue's cosines (`catalogue_cosines`), when prepared once for it."""

    def block(self, start: int, stop: int) -> np.ndarray:
        """Users `start:stop` × every project."""
        return semantic_similarity(
            self.known[start:stop],
            self.user_vectors[start:stop],
            self.project_vectors,
            self.neighbours,
            memory_bytes=self.memory_bytes,
            cosines=self.cosines,
        )

    def pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        """The given (user, project) pairs only."""
        return semantic_for_pairs(
            self.known,
            self.user_vectors,
            self.project_vectors,
            self.neighbours,
            user_index,
            project_index,
        )

    def project_block(self, projects: np.ndarray | slice) -> np.ndarray:
        """The projects' semantic vectors."""
        return np.asarray(self.project_vectors, dtype=np.float32)[projects]

    def query_block(self, users: np.ndarray) -> np.ndarray:
        """The users' own semantic vectors."""
        return self.user_vectors[users]

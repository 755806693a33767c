"""The collaborative component: "people who starred what you starred also starred".

An item-item model fitted in closed form (EASE, Steck 2019: "Embarrassingly Shallow Autoencoders
for Sparse Data"): `B = I - P·diag(1/diag(P))` with `P = (XᵀX + λI)⁻¹`, its diagonal zeroed, so a
user's score for a project is a learned weighted sum over the projects they already know. Only
projects someone interacted with take part, at most `max_items` of them (the most interacted),
which bounds memory at a few `max_items²` float32 arrays. A user's scores are scaled by a
confidence that grows with how many projects they know, so a short history lends the other
components more say.

With fewer users than modelled items the same model is computed in its dual form (Woodbury):
`XP = K⁻¹X` with `K = XXᵀ + λI`, a users × users system, so neither the items × items matrix nor
its inverse is ever formed; `diag(P)` and a new user's `xP = (x - xXᵀ·K⁻¹X) / λ` follow from the
same factors. Both forms give the same scores (tested); the fit costs users²·items instead of
items³ (65 users × 4,548 projects: milliseconds instead of most of a second).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.linalg import lapack

from octorec.settings import ScorerSettings

logger = logging.getLogger(__name__)

MIRROR_BLOCK = 512
"""Columns mirrored from the upper to the lower triangle at a time."""


@dataclass(frozen=True)
class PrimalWeights:
    """The item-item matrix B itself: `weights[i, j]` is how much knowing i suggests j."""

    weights: np.ndarray
    """`items × items` float32, zero diagonal."""

    def apply(self, known: sp.csr_matrix) -> np.ndarray:
        """`known @ B` for users' rows over the modelled items."""
        return np.asarray(known @ self.weights, dtype=np.float32)


@dataclass(frozen=True)
class DualWeights:
    """B kept as the factors of its dual form: `B = I - P·diag(1/diag(P))` never formed."""

    training: sp.csr_matrix
    """The fitted users × modelled items interactions X, float32."""
    solved: np.ndarray
    """`K⁻¹X` with `K = XXᵀ + λI`: users × modelled items, float32 (it is `XP`)."""
    diagonal: np.ndarray
    """`diag(P)`, one value per modelled item, float64."""
    regularization: float
    row_by_row: bool = False
    """Each user's product on its own: a user's scores are then exactly those they get alone
    (a product over many rows rounds differently from one row's in the last bits), what
    batched requests need; the batch run multiplies all its users at once."""

    def apply(self, known: sp.csr_matrix) -> np.ndarray:
        """`known @ B`, through `xP = (x - (xXᵀ)·K⁻¹X) / λ` and `xB = x - xP / diag(P)`."""
        overlap = (known @ self.training.T).toarray().astype(np.float32)
        rows = known.toarray().astype(np.float32)
        if self.row_by_row and len(overlap) > 1:
            product = np.vstack([overlap[i : i + 1] @ self.solved for i in range(len(overlap))])
        else:
            product = overlap @ self.solved
        projected = (rows - product) / self.regularization
        return (rows - projected / self.diagonal).astype(np.float32, copy=False)


@dataclass(frozen=True)
class ItemItemModel:
    """Item-item weights over a subset of the catalogue."""

    items: np.ndarray
    """Catalogue column of each modelled item, in the order of the weights' rows and columns;
    -1 for an item this catalogue lacks (`on_catalogue`: a chunk of a larger one)."""
    form: PrimalWeights | DualWeights
    """B itself, or the factors it is computed from (fewer users than items)."""
    catalogue_size: int
    shrinkage: float = 0.0
    """β in the confidence `n / (n + β)` of a user who knows `n` modelled projects."""

    @cached_property
    def _selector(self) -> sp.csr_matrix:
        # catalogue × modelled items, 1 where a project is a modelled item: multiplying by it
        # selects the modelled columns far faster than scipy's column indexing.
        present = self.items >= 0
        ones = np.ones(int(present.sum()), dtype=np.float32)
        return sp.csr_matrix(
            (ones, (self.items[present], np.arange(len(self.items))[present])),
            shape=(self.catalogue_size, len(self.items)),
        )

    def modelled(self, interactions: sp.csr_matrix) -> sp.csr_matrix:
        """The users' interactions with the modelled items only (columns in `items` order)."""
        return (interactions @ self._selector).tocsr()

    def confidence(self, interactions: sp.csr_matrix, shrinkage: float) -> np.ndarray:
        """Each user's `n / (n + β)` for the `n` modelled projects they know (1 when β is 0)."""
        return self._confidence(self.modelled(interactions), shrinkage)

    @staticmethod
    def _confidence(known: sp.csr_matrix, shrinkage: float) -> np.ndarray:
        count = np.asarray((known > 0).sum(axis=1), dtype=np.float32).reshape(-1)
        if shrinkage <= 0:
            return np.ones_like(count)
        return count / (count + shrinkage)

    def scores(self, interactions: sp.csr_matrix) -> np.ndarray:
        """Each user's collaborative score for every catalogue project, in [0, 1].

        A user's best-scored project among those they do not know gets their confidence
        `n / (n + β)`, which grows with how many modelled projects they know (β = 0: always 1);
        the rest scale with it. Known projects, negative evidence, users who know none of the
        modelled items and projects outside the model get 0.
        """
        result = np.zeros((interactions.shape[0], self.catalogue_size), dtype=np.float32)
        present = self.items >= 0
        result[:, self.items[present]] = self.scores_of_items(interactions)[:, present]
        return result

    def scores_of_items(self, interactions: sp.csr_matrix) -> np.ndarray:
        """`scores` restricted to the modelled items (columns in the order of `items`), all of
        them, also those this catalogue lacks (the best of them sets each user's scale)."""
        if len(self.items) == 0:
            return np.zeros((interactions.shape[0], 0), dtype=np.float32)
        known = self.modelled(interactions)
        known.sum_duplicates()
        scores = self.form.apply(known)
        np.maximum(scores, 0.0, out=scores)
        # The scale is set by the best project the user does not know yet: known projects are
        # never recommended, and they would otherwise set the scale (co-starred with each other).
        rows = np.repeat(np.arange(known.shape[0]), np.diff(known.indptr))
        scores[rows[known.data > 0], known.indices[known.data > 0]] = 0.0
        best = scores.max(axis=1, keepdims=True)
        confidence = self._confidence(known, self.shrinkage).reshape(-1, 1)
        scale = np.divide(confidence, best, out=np.zeros_like(best), where=best > 0)
        scores *= scale  # in place: one users × items array, not four
        return scores

    def position_of(self) -> np.ndarray:
        """For each catalogue project, its column in `scores_of_items`, or -1."""
        positions = np.full(self.catalogue_size, -1, dtype=np.int64)
        present = self.items >= 0
        positions[self.items[present]] = np.arange(len(self.items))[present]
        return positions

    def on_catalogue(self, items: np.ndarray, catalogue_size: int) -> ItemItemModel:
        """The same model over another catalogue, where `items` are the modelled items'
        columns (in the order of `self.items`; -1 for those it lacks).

        A user's interactions must all be in the new catalogue (their scores come from them);
        items it lacks still count towards each user's scale, so scores do not change."""
        return ItemItemModel(
            items=np.asarray(items, dtype=np.int64),
            form=self.form,
            catalogue_size=catalogue_size,
            shrinkage=self.shrinkage,
        )


def fit_collaborative(interactions: sp.csr_matrix, settings: ScorerSettings) -> ItemItemModel:
    """The item-item model the scorer uses, fitted on users × projects interactions."""
    return fit_item_item(
        interactions,
        settings.collaborative_regularization,
        settings.collaborative_max_items,
        settings.collaborative_shrinkage,
    )


def fit_item_item(
    interactions: sp.csr_matrix,
    regularization: float = 100.0,
    max_items: int = 10_000,
    shrinkage: float = 0.0,
    form: str = "auto",
) -> ItemItemModel:
    """Fit the EASE item-item weights on a users × projects 0/1 matrix.

    `form` "auto" takes the dual form when there are at most half as many users as modelled
    items (its dense users × items float64 factors then take no more memory than the primal's
    items × items float32), "primal" or "dual" force one (the scores are the same).
    """
    if regularization <= 0:
        raise ValueError(f"the regularization must be positive, not {regularization}")
    if form not in ("auto", "primal", "dual"):
        raise ValueError(f"form must be auto, primal or dual, not {form!r}")
    started = time.perf_counter()
    counts = np.asarray(interactions.sum(axis=0)).ravel()
    interacted = np.nonzero(counts > 0)[0]
    if len(interacted) > max_items:
        order = np.lexsort((interacted, -counts[interacted]))  # most interacted, then by index
        interacted = np.sort(interacted[order[:max_items]])
    x = interactions[:, interacted].astype(np.float32).tocsr()
    dual = form == "dual" or (form == "auto" and 2 * x.shape[0] <= len(interacted))
    weights = _dual_fit(x, regularization) if dual else _primal_fit(x, regularization)
    logger.info(
        "collaborative model: %d users, %d of %d projects, %s form, fitted in %.2f s",
        interactions.shape[0],
        len(interacted),
        interactions.shape[1],
        "dual" if dual else "primal",
        time.perf_counter() - started,
    )
    return ItemItemModel(
        items=interacted,
        form=weights,
        catalogue_size=interactions.shape[1],
        shrinkage=shrinkage,
    )


def _primal_fit(x: sp.csr_matrix, regularization: float) -> PrimalWeights:
    gram = np.asarray((x.T @ x).todense(), dtype=np.float32)
    gram[np.diag_indices_from(gram)] += regularization
    weights = _symmetric_positive_inverse(gram)  # P, C-ordered; becomes B in place below
    weights /= -np.diag(weights).copy()  # column j divided by -P_jj
    np.fill_diagonal(weights, 0.0)
    return PrimalWeights(weights.astype(np.float32, copy=False))


def _dual_fit(x: sp.csr_matrix, regularization: float) -> DualWeights:
    dense = x.toarray().astype(np.float64)
    kernel = dense @ dense.T
    kernel[np.diag_indices_from(kernel)] += regularization
    solved = scipy.linalg.solve(kernel, dense, assume_a="pos")  # K⁻¹X, users × items
    # P = (I - XᵀK⁻¹X) / λ, so P_jj = (1 - x_jᵀ(K⁻¹X)_j) / λ for item column x_j.
    diagonal = (1.0 - np.einsum("ui,ui->i", dense, solved)) / regularization
    return DualWeights(
        training=x,
        solved=solved.astype(np.float32),
        diagonal=diagonal,
        regularization=regularization,
    )


def _symmetric_positive_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float32 matrix, through its Cholesky factor.

    About half the work of a general inverse; XᵀX + λI with λ > 0 is always positive definite.
    LAPACK works in the matrix's own memory (it is overwritten) and the upper triangle it returns
    is mirrored in column blocks, so the peak is about one matrix, not five.
    """
    if matrix.size == 0:
        return matrix.copy()
    # A symmetric matrix is its own transpose, and the transpose of a C-ordered array is
    # Fortran-ordered: LAPACK can then overwrite it without a copy.
    work = matrix.T if matrix.flags.c_contiguous else matrix
    factor, info = lapack.spotrf(work, lower=False, clean=True, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the item Gram matrix is not positive definite (info {info})")
    inverse, info = lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the item Gram matrix could not be inverted (info {info})")
    size = inverse.shape[0]
    for start in range(0, size, MIRROR_BLOCK):
        stop = min(start + MIRROR_BLOCK, size)
        diagonal = inverse[start:stop, start:stop]
        diagonal[...] = np.triu(diagonal) + np.triu(diagonal, 1).T
        inverse[stop:, start:stop] = inverse[start:stop, stop:].T
    # Symmetric again: the transpose is the same matrix, C-ordered as sparse @ dense wants it.
    return inverse.T if not inverse.flags.c_contiguous else inverse


class CollaborativeScores:
    """The collaborative component of a run: the item-item model (None: weighted 0, not fitted)
    applied to the users' known projects. It has no vector form, so no block in the index."""

    unit_block = False

    def __init__(
        self,
        model: ItemItemModel | None,
        known: sp.csr_matrix,
        catalogue_size: int,
        pair_rows: int,
    ) -> None:
        self.model = model
        self.known = known
        self.catalogue_size = catalogue_size
        self.pair_rows = pair_rows
        """Users whose scores over the whole catalogue `pairs` holds at a time."""

    def block(self, start: int, stop: int) -> np.ndarray:
        """Users `start:stop` × every project."""
        if self.model is None:
            return np.zeros((stop - start, self.catalogue_size), dtype=np.float32)
        return self.model.scores(self.known[start:stop])

    def pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        """The given (user, project) pairs only, a bounded block of users at a time."""
        values = np.zeros(len(user_index), dtype=np.float32)
        if self.model is None or len(user_index) == 0:
            return values
        users, position = np.unique(user_index, return_inverse=True)
        step = self.pair_rows
        for start in range(0, len(users), step):
            chunk = users[start : start + step]
            scores = self.model.scores(self.known[chunk])
            picked = (position >= start) & (position < start + len(chunk))
            values[picked] = scores[position[picked] - start, project_index[picked]]
        return values

    def project_block(self, projects: np.ndarray | slice) -> None:
        """None: no vector form (candidates come from the model instead)."""
        return None

    def query_block(self, users: np.ndarray) -> None:
        """None: no vector form."""
        return None

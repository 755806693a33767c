"""The collaborative component: "people who starred what you starred also starred".

An item-item model fitted in closed form (EASE, Steck 2019: "Embarrassingly Shallow Autoencoders
for Sparse Data"): `B = I - P·diag(1/diag(P))` with `P = (XᵀX + λI)⁻¹`, its diagonal zeroed, so a
user's score for a project is a learned weighted sum over the projects they already know. Only
projects someone interacted with take part, at most `max_items` of them (the most interacted),
which bounds memory at a few `max_items²` float32 arrays. A user's scores are scaled by a
confidence that grows with how many projects they know, so a short history lends the other
components more say.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemItemModel:
    """Item-item weights over a subset of the catalogue."""

    items: np.ndarray
    """Catalogue column of each modelled item, in the order of `weights`' rows and columns."""
    weights: np.ndarray
    """`len(items) × len(items)` float32; entry (i, j) is how much knowing i suggests j."""
    catalogue_size: int
    shrinkage: float = 0.0
    """β in the confidence `n / (n + β)` of a user who knows `n` modelled projects."""

    def confidence(self, interactions: sp.csr_matrix, shrinkage: float) -> np.ndarray:
        """Each user's `n / (n + β)` for the `n` modelled projects they know (1 when β is 0)."""
        count = np.asarray((interactions[:, self.items] > 0).sum(axis=1), dtype=np.float32)
        count = count.reshape(-1)
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
        if len(self.items) == 0:
            return result
        known = interactions[:, self.items]
        raw = np.asarray(known @ self.weights, dtype=np.float32)
        np.maximum(raw, 0.0, out=raw)
        # The scale is set by the best project the user does not know yet: known projects are
        # never recommended, and they would otherwise set the scale (co-starred with each other).
        candidates = np.where(known.toarray() > 0, 0.0, raw)
        best = candidates.max(axis=1, keepdims=True)
        confidence = self.confidence(interactions, self.shrinkage).reshape(-1, 1)
        result[:, self.items] = np.divide(
            candidates * confidence, best, out=np.zeros_like(raw), where=best > 0
        )
        return result


def fit_item_item(
    interactions: sp.csr_matrix,
    regularization: float = 100.0,
    max_items: int = 10_000,
    shrinkage: float = 0.0,
) -> ItemItemModel:
    """Fit the EASE item-item weights on a users × projects 0/1 matrix."""
    if regularization <= 0:
        raise ValueError(f"the regularization must be positive, not {regularization}")
    started = time.perf_counter()
    counts = np.asarray(interactions.sum(axis=0)).ravel()
    interacted = np.nonzero(counts > 0)[0]
    if len(interacted) > max_items:
        order = np.lexsort((interacted, -counts[interacted]))  # most interacted, then by index
        interacted = np.sort(interacted[order[:max_items]])
    x = interactions[:, interacted].astype(np.float32)
    gram = np.asarray((x.T @ x).todense(), dtype=np.float32)
    gram[np.diag_indices_from(gram)] += regularization
    precision = _symmetric_positive_inverse(gram)
    weights = -precision / np.diag(precision)
    np.fill_diagonal(weights, 0.0)
    logger.info(
        "collaborative model: %d users, %d of %d projects, fitted in %.2f s",
        interactions.shape[0],
        len(interacted),
        interactions.shape[1],
        time.perf_counter() - started,
    )
    return ItemItemModel(
        items=interacted,
        weights=weights.astype(np.float32, copy=False),
        catalogue_size=interactions.shape[1],
        shrinkage=shrinkage,
    )


def _symmetric_positive_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite float32 matrix, through its Cholesky factor.

    About half the work of a general inverse; XᵀX + λI with λ > 0 is always positive definite.
    """
    if matrix.size == 0:
        return matrix.copy()
    factor, info = lapack.spotrf(matrix, lower=False, clean=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the item Gram matrix is not positive definite (info {info})")
    inverse, info = lapack.spotri(factor, lower=False)
    if info != 0:
        raise np.linalg.LinAlgError(f"the item Gram matrix could not be inverted (info {info})")
    upper = np.triu(inverse)
    return upper + np.triu(inverse, 1).T

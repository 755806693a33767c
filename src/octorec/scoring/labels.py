"""The label components (category, tech stack): the Jaccard index of the user's and the
project's label sets, 0 when either set is empty."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from octorec.features import multi_hot, vocabulary

DENSE_USERS = 16
"""Up to this many users, Jaccard against the label sets is one dense product."""
PAIR_USERS_PER_STEP = 1024
"""Distinct users whose Jaccard against every distinct label set is held at a time."""


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
        self.distinct_dense = np.ascontiguousarray(distinct.T, dtype=np.float32)
        """Labels × distinct sets: a few users meet them by one dense product (exact counts)."""
        self.distinct_sizes = self.distinct_dense.sum(axis=0, keepdims=True)
        self.projects = dense

    def jaccard(self, users: sp.csr_matrix) -> np.ndarray:
        """Users × projects Jaccard index, as `jaccard(users, projects)`."""
        if users.shape[0] <= DENSE_USERS:
            return np.take(self._dense_jaccard(users), self.set_of, axis=1)
        return np.take(jaccard(users, self.distinct), self.set_of, axis=1)

    def _dense_jaccard(self, users: sp.csr_matrix) -> np.ndarray:
        # The same arithmetic as `jaccard` (integer counts, exact in float32) without sparse
        # products, whose set-up dominates for a request's one user.
        rows = users.toarray().astype(np.float32, copy=False)
        intersection = rows @ self.distinct_dense
        left_size = rows.sum(axis=1, keepdims=True)
        union = left_size + self.distinct_sizes - intersection
        defined = (left_size > 0) & (self.distinct_sizes > 0)
        return np.divide(intersection, union, out=np.zeros_like(intersection), where=defined)

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
            chosen = users[distinct_users[start : start + step]]
            block = (
                self._dense_jaccard(chosen)
                if chosen.shape[0] <= DENSE_USERS
                else jaccard(chosen, self.distinct)
            )
            picked = (row_of >= start) & (row_of < start + step)
            values[picked] = block[row_of[picked] - start, sets[picked]]
        return values


class LabelCatalogue:
    """The projects' side of a label component, prepared once per catalogue: the vocabulary
    (the projects' labels and any others users may bring, such as the whole taxonomy) and the
    projects' distinct label sets over it.

    Extra labels that no project has are zero columns: they change no Jaccard index and no
    inner product, so scores are those of a vocabulary built from the users' labels.
    """

    def __init__(self, project_labels: Sequence[Sequence[str]], extra: Sequence[str] = ()) -> None:
        self.labels = vocabulary(project_labels, [list(extra)])
        self.known = frozenset(self.labels)
        self.sets = LabelSets(multi_hot(project_labels, self.labels))

    def covers(self, user_labels: Sequence[Sequence[str]]) -> bool:
        """Whether every one of these labels is in the vocabulary."""
        return all(label in self.known for row in user_labels for label in row)


class LabelScores:
    """One label component of a run: the users' and the projects' sets over one vocabulary.

    In the approximate index a label block is the unit multi-hot vector (set cosine stands in
    for Jaccard). A prepared `catalogue` whose vocabulary covers the users' labels is reused
    as it is; otherwise the vocabulary is built from the users' and the projects' labels.
    """

    unit_block = True

    def __init__(
        self,
        user_labels: Sequence[Sequence[str]],
        project_labels: Sequence[Sequence[str]],
        catalogue: LabelCatalogue | None = None,
    ) -> None:
        if catalogue is not None and catalogue.covers(user_labels):
            self.users = multi_hot(user_labels, catalogue.labels)
            self.sets = catalogue.sets
            return
        labels = vocabulary(user_labels, project_labels)
        self.users = multi_hot(user_labels, labels)
        self.sets = LabelSets(multi_hot(project_labels, labels))

    def block(self, start: int, stop: int) -> np.ndarray:
        """Users `start:stop` × every project."""
        return self.sets.jaccard(self.users[start:stop])

    def pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        """The given (user, project) pairs only."""
        return self.sets.jaccard_pairs(self.users, user_index, project_index)

    def project_block(self, projects: np.ndarray | slice) -> np.ndarray:
        """The projects' multi-hot rows (unit-scaled by the index)."""
        return self.sets.projects[projects]

    def query_block(self, users: np.ndarray) -> np.ndarray:
        """The users' multi-hot rows (unit-scaled by the index)."""
        return self.users[users].toarray()

"""Set-valued features (categories, tech stack) as sparse multi-hot matrices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp


def vocabulary(*collections: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """The sorted distinct labels appearing in any of the given lists of label lists."""
    return tuple(sorted({label for labels in collections for row in labels for label in row}))


def multi_hot(rows: Sequence[Sequence[str]], labels: Sequence[str]) -> sp.csr_matrix:
    """A `(len(rows), len(labels))` 0/1 matrix; labels outside `labels` are ignored."""
    column_of = {label: index for index, label in enumerate(labels)}
    indptr = [0]
    indices: list[int] = []
    for row in rows:
        columns = sorted({column_of[label] for label in row if label in column_of})
        indices.extend(columns)
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix(
        (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(rows), len(labels)),
    )

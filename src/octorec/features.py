"""Set-valued features as sparse 0/1 matrices, and vectors joined from weighted blocks.

`multi_hot` (labels of projects and users) and `interaction_matrix` (the projects users starred
or own) are one construction: rows of names, each mapped to its column when it has one. The
√w-weighted blocks are how hybrid embeddings and the approximate index's vectors are made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp


def vocabulary(*collections: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """The sorted distinct labels appearing in any of the given lists of label lists."""
    return tuple(sorted({label for labels in collections for row in labels for label in row}))


def membership(rows: Sequence[Sequence[str]], column_of: Mapping[str, int]) -> sp.csr_matrix:
    """A `(len(rows), len(column_of))` 0/1 matrix: row i has a 1 in the column of each of its
    names; names without a column are ignored and repeated names count once."""
    indptr = [0]
    indices: list[int] = []
    for row in rows:
        indices.extend(sorted({column_of[name] for name in row if name in column_of}))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sp.csr_matrix(
        (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(rows), len(column_of)),
    )


def multi_hot(rows: Sequence[Sequence[str]], labels: Sequence[str]) -> sp.csr_matrix:
    """A `(len(rows), len(labels))` 0/1 matrix; labels outside `labels` are ignored."""
    return membership(rows, {label: index for index, label in enumerate(labels)})


def interaction_matrix(
    interacted: Sequence[Sequence[str]], project_index: Mapping[str, int]
) -> sp.csr_matrix:
    """A users × projects 0/1 matrix of the listed projects that are in `project_index`."""
    return membership(interacted, project_index)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def weighted_blocks(
    blocks: Sequence[tuple[float, np.ndarray, bool]],
    *,
    keep_unweighted: bool = False,
    width: int = 0,
) -> np.ndarray:
    """Row-aligned blocks joined side by side, each scaled by √ of its weight.

    Each block is `(weight, rows × columns values, unit)`; `unit` blocks are scaled to unit
    length per row first. The dot product of two such vectors is then `Σ w·(block · block')`.
    Blocks whose weight is 0 are left out, unless `keep_unweighted` (a fixed layout: they stay,
    as zeros). Written into one float32 array, zero-padded to `width` columns if wider.
    """
    used = [b for b in blocks if keep_unweighted or b[0] > 0]
    rows = len(blocks[0][1]) if blocks else 0
    natural = sum(block.shape[1] for _, block, _ in used)
    result = np.zeros((rows, max(width, natural)), dtype=np.float32)
    column = 0
    for weight, block, unit in used:
        target = result[:, column : column + block.shape[1]]
        target[...] = unit_rows(block.astype(np.float32)) if unit else block
        target *= np.float32(np.sqrt(weight))
        column += block.shape[1]
    return result

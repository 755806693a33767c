"""Moving embedding matrices in and out of Arrow list columns without Python loops."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def vectors_to_arrow(matrix: np.ndarray) -> pa.ListArray:
    """A `list<float32>` column with one row per matrix row."""
    values = np.ascontiguousarray(matrix, dtype=np.float32)
    rows, dims = values.shape
    offsets = np.arange(0, (rows + 1) * dims, dims, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.reshape(-1)))


def matrix_from_arrow(column: pa.ChunkedArray | pa.Array, dims: int) -> np.ndarray:
    """The `(rows, dims)` float32 matrix held in a list column whose rows all have `dims` values.

    Raises:
        ValueError: a row is missing or has another length, which means the stored vectors do not
            come from the configured model.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.zeros((0, dims), dtype=np.float32)
    if array.null_count:
        raise ValueError(f"{array.null_count} stored vectors are missing")
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if not np.all(lengths == dims):
        found = sorted({int(length) for length in lengths if length != dims})
        raise ValueError(f"stored vectors have {found} values, expected {dims}")
    flat = array.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(len(array), dims)

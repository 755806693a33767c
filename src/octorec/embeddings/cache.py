"""Embeddings cached by (model, backend, content hash): unchanged texts are never embedded twice.

Each backend and token limit (`TextEncoder.cache_variant`, e.g. `onnx-int8@256`) keeps its own
vectors: int8 vectors are close to, not equal to, the reference ones, and one table must never mix
them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from octorec import constants as c
from octorec.embeddings.encoder import ModelUnavailableError, TextEncoder
from octorec.warehouse import Warehouse, matrix_from_arrow, vectors_to_arrow

logger = logging.getLogger(__name__)

ENCODE_CHUNK = 8192
"""Texts embedded, and stored in the cache, at a time."""


def content_hash(text: str) -> str:
    """The MD5 hex digest dbt's `md5()` gives for the same text."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _check_cached_size(column: pa.ChunkedArray, encoder: TextEncoder) -> None:
    """Refuse cached vectors whose size is not `MODEL_DIMENSIONS`, saying which to change.

    Raises:
        ModelUnavailableError: `MODEL_DIMENSIONS` is not the model's size (set it to the model's),
            or the cache holds vectors of another size than the model's (embed again).
    """
    if column.null_count == len(column):
        return
    sizes = {int(n) for n in pc.list_value_length(column).drop_null().to_pylist()}
    other = sorted(sizes - {encoder.dimensions})
    if not other:
        return
    encoder.check()  # says "MODEL_DIMENSIONS=N but the model produces M-d embeddings"
    shown = " and ".join(str(n) for n in other)
    raise ModelUnavailableError(
        f"the embedding cache holds vectors of {shown} values for {encoder.model_name} "
        f"({encoder.cache_variant}) where the model and MODEL_DIMENSIONS={encoder.dimensions} "
        "agree: they come from another version of the model; embed again with "
        "`octorec run --force` (OCTOREC_FORCE=1)"
    )


@dataclass(frozen=True)
class CachedEncoding:
    """Vectors for the requested texts and how many had to be embedded now."""

    vectors: np.ndarray
    embedded: int
    reused: int


def _offset(
    on_progress: Callable[[int, int], None], offset: int, total: int
) -> Callable[[int], None]:
    """A chunk's progress (texts done in it) as the whole call's (done of total)."""
    return lambda done: on_progress(offset + done, total)


def encode_with_cache(
    warehouse: Warehouse,
    encoder: TextEncoder,
    texts: Sequence[str],
    hashes: Sequence[str],
    refresh: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> CachedEncoding:
    """Embed only the texts whose hash the cache lacks, store them, return all vectors in order.

    `refresh` embeds every text again and overwrites its cached vector (`octorec run --force`).
    `on_progress(done, total)` is told, as batches finish, how many of the `total` texts that
    need embedding are embedded.
    """
    if len(texts) != len(hashes):
        raise ValueError("texts and hashes must be the same length")
    unique_hashes = list(dict.fromkeys(hashes))
    wanted = pa.table({"content_hash": pa.array(unique_hashes, pa.string())})
    with warehouse.transaction(), warehouse.staged("_octorec_wanted", wanted):
        cached = warehouse.query(
            f"SELECT c.content_hash, c.embedding FROM {c.EMBEDDING_CACHE} AS c "
            "INNER JOIN _octorec_wanted AS w ON w.content_hash = c.content_hash "
            "WHERE c.model = ? AND c.backend = ?",
            [encoder.model_name, encoder.cache_variant],
        )
    if refresh:
        cached = cached.slice(0, 0)
    _check_cached_size(cached.column("embedding"), encoder)
    row_of: dict[str, int] = {h: i for i, h in enumerate(cached.column("content_hash").to_pylist())}
    known = matrix_from_arrow(cached.column("embedding"), encoder.dimensions)

    text_of = dict(zip(hashes, texts, strict=True))
    missing = [h for h in unique_hashes if h not in row_of]
    parts = [np.zeros((0, encoder.dimensions), dtype=np.float32)]
    # In chunks, each stored as soon as it is embedded: a long first run that stops half-way
    # keeps what it did, and the next one starts from there.
    for start in range(0, len(missing), ENCODE_CHUNK):
        chunk = missing[start : start + ENCODE_CHUNK]
        report = None if on_progress is None else _offset(on_progress, start, len(missing))
        parts.append(encoder.encode([text_of[h] for h in chunk], on_progress=report))
        warehouse.upsert(
            c.EMBEDDING_CACHE,
            pa.table(
                {
                    "model": pa.array([encoder.model_name] * len(chunk), pa.string()),
                    "backend": pa.array([encoder.cache_variant] * len(chunk), pa.string()),
                    "content_hash": pa.array(chunk, pa.string()),
                    "embedding": vectors_to_arrow(parts[-1]),
                    "created_at": pa.array([datetime.now(UTC)] * len(chunk)),
                }
            ),
            ["model", "backend", "content_hash"],
        )
        if len(missing) > ENCODE_CHUNK:
            logger.info("embedded %d of %d new texts", start + len(chunk), len(missing))
    fresh = np.vstack(parts)
    vectors = np.zeros((len(hashes), encoder.dimensions), dtype=np.float32)
    fresh_row = {h: i for i, h in enumerate(missing)}
    for position, h in enumerate(hashes):
        vectors[position] = known[row_of[h]] if h in row_of else fresh[fresh_row[h]]
    logger.info("embeddings: %d reused from cache, %d embedded", len(row_of), len(missing))
    return CachedEncoding(vectors=vectors, embedded=len(missing), reused=len(row_of))

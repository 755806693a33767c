"""Encoders report how far they have got, and reporting changes no vector."""

import numpy as np
import pytest

from octorec.constants import MODEL_DIMENSIONS, MODEL_NAME
from octorec.embeddings.encoder import PROGRESS_BATCHES, EmbeddingBackend, TextEncoder

pytestmark = pytest.mark.slow

BATCH = 4
TEXTS = [f"project {i}: " + "a tool for data pipelines " * (i % 7 + 1) for i in range(70)]


@pytest.mark.parametrize("backend", [EmbeddingBackend.ONNX_INT8, EmbeddingBackend.TORCH])
def test_progress_counts_up_to_every_text_and_the_vectors_are_unchanged(
    backend: EmbeddingBackend,
) -> None:
    encoder = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, BATCH, backend=backend, device="cpu")
    done: list[int] = []

    with_progress = encoder.encode(TEXTS, on_progress=done.append)
    without = encoder.encode(TEXTS)

    assert done[0] == 0 and done[-1] == len(TEXTS)
    assert done == sorted(done) and len(set(done)) == len(done)
    # onnx reports after each batch (batches hold texts of one token length, so there may be
    # more than len(TEXTS) / BATCH of them); torch after each slice of PROGRESS_BATCHES batches.
    per_report = BATCH if backend == EmbeddingBackend.ONNX_INT8 else BATCH * PROGRESS_BATCHES
    steps = np.diff(done)
    assert steps.max() <= per_report and len(done) >= 1 + -(-len(TEXTS) // per_report)
    if backend == EmbeddingBackend.TORCH:
        assert len(done) == 1 + -(-len(TEXTS) // per_report)
    np.testing.assert_allclose(with_progress, without, atol=1e-6)

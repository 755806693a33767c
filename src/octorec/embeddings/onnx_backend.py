"""Sentence embeddings with ONNX Runtime: the model's own tokenizer, batches of equal length.

Texts are tokenised with the model's `tokenizer.json` (Hugging Face `tokenizers`, no padding),
truncated to `max_tokens` and batched only with texts of the same token count, so nothing is
ever padded. With the per-token quantisation of the int8 export (`onnx_export`) that makes a
text's vector a function of that text alone, bit for bit: which texts share its call, its batch
or the embedding cache never changes it (padding changes the shapes of the float kernels and,
with them, the last bits of the sums).

On CPU the batches run side by side, one ONNX Runtime thread each, on as many Python threads as
the process may use (`run` releases the GIL): batches of a few dozen short texts keep one core
busy better than two threads splitting each small matrix product (about 1.3× the texts a
second on two cores). Each batch is computed whole by one thread, so the vectors are the same
bits either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np


def model_max_tokens(model_path: Path) -> int:
    """The sequence length the sentence-transformers model was configured with."""
    config = model_path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


class OnnxSentenceEncoder:
    """An exported sentence-embedding graph (see `onnx_export`) and its tokenizer."""

    def __init__(
        self,
        onnx_file: Path,
        model_path: Path,
        max_tokens: int,
        threads: int,
        device: str,
        *,
        quantised: bool = False,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        on_cpu = providers[0] == "CPUExecutionProvider"
        self.concurrent_batches = max(1, threads) if on_cpu else 1
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if on_cpu else threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if quantised:
            # The extended fusions turn MatMulInteger → Cast → Mul into MatMulIntegerToFloat,
            # which takes one activation scale per tensor and so would undo the per-token one.
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self.session = ort.InferenceSession(str(onnx_file), options, providers=providers)
        self.dimensions = int(self.session.get_outputs()[0].shape[-1])

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """One L2-normalised float32 row per text, in the order given; `on_progress` is told
        how many texts are done after each batch."""
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = np.array([len(encoding.ids) for encoding in encodings])
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        batches = [
            same[start : start + batch_size]
            for width in np.unique(lengths).tolist()
            for same in [np.flatnonzero(lengths == width)]
            for start in range(0, len(same), batch_size)
        ]
        # The costliest first, so the threads finish together.
        batches.sort(key=lambda rows: -len(rows) * int(lengths[rows[0]]))

        def embed(rows: np.ndarray) -> int:
            input_ids = np.array([encodings[row].ids for row in rows], dtype=np.int64)
            input_ids = input_ids.reshape(len(rows), int(lengths[rows[0]]))
            (tokens,) = self.session.run(
                None, {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
            )
            for position, row in enumerate(rows):
                vectors[row] = _mean_pooled(tokens[position])
            return len(rows)

        if on_progress is not None:
            on_progress(0)
        done = 0
        with ThreadPoolExecutor(self.concurrent_batches) as pool:
            for finished in as_completed([pool.submit(embed, rows) for rows in batches]):
                done += finished.result()
                if on_progress is not None:
                    on_progress(done)
        return vectors


def _mean_pooled(tokens: np.ndarray) -> np.ndarray:
    """One text's sentence embedding: the mean of its token embeddings, L2-normalised.

    Computed per text, in float64, so the sums never depend on the batch's shape.
    """
    pooled = tokens.astype(np.float64).mean(axis=0)
    return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

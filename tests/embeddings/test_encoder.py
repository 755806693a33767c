import numpy as np
import pytest

from octorec.constants import MODEL_DIMENSIONS, MODEL_NAME
from octorec.embeddings.encoder import ModelUnavailableError, TextEncoder, resolve_model_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(MODEL_NAME, MODEL_DIMENSIONS, batch_size=8)


def test_the_packaged_model_gives_unit_vectors_of_the_configured_size(
    encoder: TextEncoder,
) -> None:
    vectors = encoder.encode(["A fast web framework for Python", "A Rust game engine"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_related_texts_are_closer_than_unrelated_ones(encoder: TextEncoder) -> None:
    web, api, game = encoder.encode(
        [
            "Web framework for building HTTP APIs in Python",
            "Build REST APIs quickly with Python",
            "Fly a spaceship in this retro arcade shooter",
        ]
    )
    assert web @ api > web @ game + 0.2


def test_no_texts_give_an_empty_matrix(encoder: TextEncoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_wrong_dimensions_are_reported(encoder: TextEncoder) -> None:
    with pytest.raises(ModelUnavailableError, match=r"MODEL_DIMENSIONS=512 but .* produces 384-d"):
        TextEncoder(MODEL_NAME, 512).check()


def test_a_model_that_is_not_local_is_never_downloaded() -> None:
    with pytest.raises(ModelUnavailableError, match="never downloaded"):
        resolve_model_path("sentence-transformers/all-mpnet-base-v2")

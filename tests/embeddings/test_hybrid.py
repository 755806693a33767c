import numpy as np
import pytest

from octorec.embeddings.hybrid import HybridLayout, hybrid_embeddings
from octorec.settings import ScoringWeights

LAYOUT = HybridLayout(
    semantic_dimensions=3, categories=("ai-ml", "web"), tech_stack=("Go", "Python", "Rust")
)
WEIGHTS = ScoringWeights(semantic=0.25, category=0.45, tech_stack=0.5, popularity=0.1)


def _hybrids() -> np.ndarray:
    semantic = np.array([[1, 0, 0], [0.6, 0.8, 0]], dtype=np.float32)
    return hybrid_embeddings(
        semantic,
        [["ai-ml"], ["ai-ml", "web", "unknown-label"]],
        [["Python", "Go"], []],
        np.array([0.5, 1.0], dtype=np.float32),
        LAYOUT,
        WEIGHTS,
    )


def test_layout_and_unit_length() -> None:
    vectors = _hybrids()
    assert LAYOUT.dimensions == 3 + 2 + 3 + 1
    assert vectors.shape == (2, LAYOUT.dimensions)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_a_block_weighted_zero_stays_in_the_layout_as_zeros() -> None:
    # The layout is fixed: a weight of 0 zeroes its block (so the hybrid vectors are no source
    # of the semantic vectors: the scorer reads those from their own table).
    no_semantic = WEIGHTS.model_copy(update={"semantic": 0.0})
    vectors = hybrid_embeddings(
        np.array([[1, 0, 0]], dtype=np.float32), [["web"]], [[]], np.zeros(1), LAYOUT, no_semantic
    )
    assert vectors.shape == (1, LAYOUT.dimensions)
    assert not vectors[0, :3].any() and vectors[0, 4] == pytest.approx(1.0)


def test_dot_product_mirrors_the_weighted_components() -> None:
    vectors = _hybrids()
    # Undo each row's normalisation to compare the raw block products.
    norms = np.sqrt([0.25 + 0.45 + 0.5 + 0.1 * 0.5**2, 0.25 + 0.45 + 0.0 + 0.1 * 1.0**2])
    raw = (vectors[0] * norms[0]) @ (vectors[1] * norms[1])
    expected = 0.25 * 0.6 + 0.45 * (1 / np.sqrt(2)) + 0.5 * 0 + 0.1 * 0.5 * 1.0
    assert raw == pytest.approx(expected, rel=1e-5)


def test_semantic_size_must_match_the_layout() -> None:
    with pytest.raises(ValueError, match="layout expects 3"):
        hybrid_embeddings(np.zeros((1, 4)), [[]], [[]], np.zeros(1), LAYOUT, WEIGHTS)

import numpy as np
import pytest

from octorec.embeddings.users import SemanticBasis, user_semantic_vectors
from octorec.features import interaction_matrix

PROJECTS = np.array([[1, 0], [0, 1], [1, 0]], dtype=np.float32)
INDEX = {"a/x": 0, "a/y": 1, "a/z": 2}


def test_interaction_matrix_ignores_projects_outside_the_catalogue() -> None:
    matrix = interaction_matrix([["a/x", "gone/repo"], [], ["a/y", "a/y"]], INDEX)
    assert matrix.toarray().tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]


def test_users_are_the_normalised_mean_blended_with_their_profile() -> None:
    interactions = interaction_matrix([["a/x", "a/y"], ["a/x"], [], []], INDEX)
    profiles = np.array([[0, 1], [0, 1], [0, 1], [0, 0]], dtype=np.float32)
    has_profile = np.array([False, True, True, False])
    vectors, bases = user_semantic_vectors(interactions, PROJECTS, profiles, has_profile, 0.5)

    np.testing.assert_allclose(vectors[0], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    np.testing.assert_allclose(vectors[1], [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)
    np.testing.assert_allclose(vectors[2], [0, 1])
    np.testing.assert_allclose(vectors[3], [0, 0])
    assert bases == [
        SemanticBasis.INTERACTIONS,
        SemanticBasis.PROFILE_AND_INTERACTIONS,
        SemanticBasis.PROFILE,
        SemanticBasis.NONE,
    ]


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_profile_weight_moves_the_vector_towards_the_profile(weight: float) -> None:
    interactions = interaction_matrix([["a/x"]], INDEX)
    vectors, _ = user_semantic_vectors(
        interactions, PROJECTS, np.array([[0, 1]], dtype=np.float32), np.array([True]), weight
    )
    expected = np.array([1 - weight, weight]) / np.linalg.norm([1 - weight, weight])
    np.testing.assert_allclose(vectors[0], expected, rtol=1e-6)

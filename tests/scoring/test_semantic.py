"""Known answers for the semantic component: nearest known projects, else the user's vector."""

import numpy as np
import pytest
import scipy.sparse as sp

from octorec.scoring.semantic import semantic_similarity

# Four projects on the unit circle at 0°, 90°, 45° and 180°.
PROJECTS = np.array([[1, 0], [0, 1], [np.sqrt(0.5), np.sqrt(0.5)], [-1, 0]], dtype=np.float32)


def test_the_mean_of_the_nearest_known_projects() -> None:
    known = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    users = np.zeros((1, 2), dtype=np.float32)
    one = semantic_similarity(known, users, PROJECTS, neighbours=1)[0]
    two = semantic_similarity(known, users, PROJECTS, neighbours=2)[0]
    # 45°: nearest known is either axis, cos 45° ≈ 0.707; with both, the same mean.
    assert one[2] == pytest.approx(np.sqrt(0.5))
    assert two[2] == pytest.approx(np.sqrt(0.5))
    # 180°: cosines -1 (0°) and 0 (90°): the nearest is 0; the mean of both is -0.5 → 0.
    assert one[3] == pytest.approx(0.0)
    assert two[3] == pytest.approx(0.0)
    # A user with two distinct interests matches each fully, unlike their mean vector would.
    assert one[0] == pytest.approx(1.0) and one[1] == pytest.approx(1.0)


def test_users_without_known_projects_use_their_own_vector() -> None:
    known = sp.csr_matrix((2, 4), dtype=np.float32)
    users = np.array([[1, 0], [0, 0]], dtype=np.float32)
    result = semantic_similarity(known, users, PROJECTS, neighbours=10)
    np.testing.assert_allclose(result[0], [1, 0, np.sqrt(0.5), 0], atol=1e-6)
    assert not result[1].any()


def test_zero_neighbours_is_the_cosine_to_the_users_vector() -> None:
    known = sp.csr_matrix(np.array([[1, 1, 0, 0]], dtype=np.float32))
    users = np.array([[np.sqrt(0.5), np.sqrt(0.5)]], dtype=np.float32)
    result = semantic_similarity(known, users, PROJECTS, neighbours=0)
    np.testing.assert_allclose(result[0], [np.sqrt(0.5), np.sqrt(0.5), 1, 0], atol=1e-6)


def test_per_user_chunks_give_the_shared_answer(monkeypatch) -> None:
    # The shared known × catalogue cosines (default budget) and the per-user path that takes
    # known projects 3 at a time (no budget) must agree.
    import octorec.scoring.semantic as semantic

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(40, 6)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    known = sp.csr_matrix((rng.random((3, 40)) < 0.5).astype(np.float32))
    users = np.zeros((3, 6), dtype=np.float32)
    whole = semantic_similarity(known, users, vectors, neighbours=4)
    monkeypatch.setattr(semantic, "KNOWN_CHUNK", 3)
    per_user = semantic_similarity(known, users, vectors, 4, memory_bytes=0)
    np.testing.assert_allclose(per_user, whole, atol=1e-6)

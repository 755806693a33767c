"""Known-answer tests of the item-item (EASE) collaborative model."""

import numpy as np
import pytest
import scipy.sparse as sp

from octorec.scoring.collaborative import ItemItemModel, fit_item_item


def _matrix(rows: list[list[int]]) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(rows, dtype=np.float32))


def _weights(model: ItemItemModel) -> np.ndarray:
    """B as an items × items array, through the form's own `apply` (one user per item)."""
    return model.form.apply(sp.identity(len(model.items), dtype=np.float32, format="csr"))


@pytest.mark.parametrize("form", ["primal", "dual"])
def test_weights_match_the_closed_form_by_hand(form: str) -> None:
    # Two users both know items 0 and 1: XᵀX = [[2, 2], [2, 2]], λ = 1 → P = (G + I)⁻¹
    # = [[3, -2], [-2, 3]] / 5; B = -P / diag(P) with a zero diagonal → B01 = B10 = 2/3.
    model = fit_item_item(_matrix([[1, 1, 0], [1, 1, 0]]), regularization=1.0, form=form)
    assert model.items.tolist() == [0, 1]  # item 2 has no interactions: not modelled
    assert _weights(model) == pytest.approx(np.array([[0, 2 / 3], [2 / 3, 0]]), abs=1e-6)


def test_scores_are_scaled_per_user_and_unmodelled_items_get_zero() -> None:
    training = _matrix([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0]])
    model = fit_item_item(training, regularization=1.0)
    scores = model.scores(_matrix([[1, 0, 0, 0], [0, 0, 0, 0]]))
    assert scores.shape == (2, 4)
    assert scores[0].max() == pytest.approx(1.0)  # the best candidate is scaled to 1
    assert scores[0, 1] > scores[0, 2]  # item 1 co-occurs with 0 more often than item 2
    assert scores[0, 3] == 0.0  # nobody interacted with item 3
    assert not scores[1].any()  # a user who knows nothing gets nothing


def test_known_projects_score_zero_and_do_not_set_the_scale() -> None:
    # Items 0 and 1 are always starred together, so a user who knows both scores them highest;
    # the scale must come from the best project they do not know yet (item 2).
    training = _matrix([[1, 1, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1]])
    model = fit_item_item(training, regularization=1.0)
    scores = model.scores(_matrix([[1, 1, 0]]))
    assert scores[0, 0] == 0.0 and scores[0, 1] == 0.0
    assert scores[0, 2] == pytest.approx(1.0)


def test_max_items_keeps_the_most_interacted() -> None:
    training = _matrix([[1, 1, 0, 1], [1, 0, 0, 1], [1, 0, 1, 0]])
    model = fit_item_item(training, regularization=1.0, max_items=2)
    assert model.items.tolist() == [0, 3]  # counts 3 and 2; items 1 and 2 have 1 each
    assert _weights(model).shape == (2, 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_dual_form_scores_like_the_primal(seed: int) -> None:
    # 30 users, 80 items (auto picks the dual form): same B, same scores for seen and new users.
    rng = np.random.default_rng(seed)
    training = sp.csr_matrix((rng.random((30, 80)) < 0.15).astype(np.float32))
    primal = fit_item_item(training, regularization=5.0, form="primal", shrinkage=3.0)
    dual = fit_item_item(training, regularization=5.0, shrinkage=3.0)
    assert type(dual.form).__name__ == "DualWeights"
    assert dual.items.tolist() == primal.items.tolist()
    np.testing.assert_allclose(_weights(dual), _weights(primal), atol=1e-5)
    new_users = sp.csr_matrix((rng.random((7, 80)) < 0.2).astype(np.float32))
    for users in (training, new_users):
        np.testing.assert_allclose(dual.scores(users), primal.scores(users), atol=1e-5)


def test_the_form_must_be_known() -> None:
    with pytest.raises(ValueError, match="form"):
        fit_item_item(_matrix([[1, 1]]), form="fast")


def test_regularization_must_be_positive() -> None:
    with pytest.raises(ValueError, match="regularization"):
        fit_item_item(_matrix([[1]]), regularization=0.0)


def test_shrinkage_scales_by_the_confidence_of_the_history() -> None:
    training = _matrix([[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0]])
    model = fit_item_item(training, regularization=1.0, shrinkage=2.0)
    scores = model.scores(_matrix([[1, 0, 0, 0], [1, 1, 0, 0]]))
    # One known project: confidence 1 / (1 + 2); two: 2 / (2 + 2).
    assert scores[0].max() == pytest.approx(1 / 3)
    assert scores[1].max() == pytest.approx(1 / 2)


def test_a_model_moved_to_a_smaller_catalogue_scores_its_projects_the_same() -> None:
    rng = np.random.default_rng(7)
    interactions = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float32))
    model = fit_item_item(interactions, regularization=5.0)
    users = interactions[:6]
    whole = model.scores(users)
    # A chunk: the users' known projects plus a few others, in another order of columns.
    kept = sorted(set(users.indices.tolist()) | {0, 5, 11})
    column = {project: i for i, project in enumerate(kept)}
    moved = model.on_catalogue(
        np.array([column.get(int(p), -1) for p in model.items]), catalogue_size=len(kept)
    )
    assert (moved.items == -1).any()  # some modelled items are outside the chunk
    np.testing.assert_allclose(moved.scores(users[:, kept]), whole[:, kept], atol=1e-6)

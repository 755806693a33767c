"""The stored rows explain themselves: each carries the weights its score was made with."""

import numpy as np
import pytest

from octorec.scoring.collaborative import fit_collaborative
from octorec.scoring.inputs import UserFeatures
from octorec.scoring.recommend import recommend
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.rows import weights_used
from octorec.settings import ContentWeights, ScorerSettings, ScoringWeights

from .synthetic import synthetic_world

WEIGHTS = ScoringWeights(
    semantic=0.4, category=0.1, tech_stack=0.2, popularity=0.05, collaborative=0.4
)
COLD = ContentWeights().as_scoring_weights()


def test_weights_used_follow_the_scorers_rules_for_every_kind_of_user() -> None:
    knows_nothing = np.array([False, True, True])
    without_signal = np.array([False, False, True])
    used = weights_used(WEIGHTS, COLD, knows_nothing, without_signal)
    # Each weight as its share of the weighting's sum (1.15 and 1.3 here), so that a score is
    # the weighted mean of its components.
    assert used[0].tolist() == pytest.approx([getattr(WEIGHTS, n) / 1.15 for n in COMPONENTS])
    assert used[1].tolist() == pytest.approx([getattr(COLD, n) / 1.3 for n in COMPONENTS])
    assert used.sum(axis=1).tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert used[2].tolist() == [1.0 if n == "popularity" else 0.0 for n in COMPONENTS]


def test_every_kept_score_is_the_weighted_sum_of_its_components_with_those_weights() -> None:
    users, projects = synthetic_world(60, 400, seed=4)
    result = recommend(users, projects, WEIGHTS, 5, 0.0, cold_start_weights=COLD)
    used = weights_used(WEIGHTS, COLD, users.knows_nothing(), users.without_signal())
    kinds = {0, 1} & set(result.user_index.tolist())  # the synthetic cold and no-signal users
    assert kinds == {0, 1}
    components = np.column_stack([result.components[n] for n in COMPONENTS])
    recomputed = (used[result.user_index] * components).sum(axis=1)
    np.testing.assert_allclose(result.score, recomputed, atol=1e-5)


def test_a_shard_without_users_gives_an_empty_well_typed_table() -> None:
    from octorec.scoring.rows import recommendations_table

    users, projects = synthetic_world(20, 100, seed=5)
    nobody = UserFeatures(
        logins=[], semantic=users.semantic[:0], categories=[], tech_stack=[], known=users.known[:0]
    )
    everyone = fit_collaborative(users.known, ScorerSettings())  # as a shard's chunks get it
    result = recommend(
        nobody, projects, WEIGHTS, 5, 0.0, cold_start_weights=COLD, item_item=everyone
    )
    assert len(result) == 0 and result.user_index.dtype == np.int64
    table = recommendations_table(result, nobody, projects, WEIGHTS, ContentWeights(), "run")
    assert table.num_rows == 0 and "collaborative_weight" in table.column_names

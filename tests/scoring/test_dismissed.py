"""Dismissed projects are never recommended, in exact and in ANN mode, and stay out of what a
user is known to like (the collaborative model and the cold-start rule ignore them)."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from octorec.scoring.recommend import recommend
from octorec.scoring.scorer import Scorer
from octorec.settings import ContentWeights, Retrieval, ScorerSettings, ScoringWeights

from .synthetic import synthetic_world

WEIGHTS = ScoringWeights(
    semantic=0.4, category=0.1, tech_stack=0.1, popularity=0.1, collaborative=0.3
)
COLD = ContentWeights().as_scoring_weights()
TOP_N = 5


def _by_user(result) -> dict[int, list[int]]:  # type: ignore[no-untyped-def]
    found: dict[int, list[int]] = {}
    for u, p in zip(result.user_index.tolist(), result.project_index.tolist(), strict=True):
        found.setdefault(u, []).append(p)
    return found


@pytest.mark.parametrize("retrieval", [Retrieval.EXACT, Retrieval.ANN])
def test_each_users_dismissed_recommendations_are_replaced(retrieval: Retrieval) -> None:
    users, projects = synthetic_world(60, 800, seed=4)
    settings = ScorerSettings(retrieval=retrieval, ann_candidates=60)
    before = _by_user(recommend(users, projects, WEIGHTS, TOP_N, 0.0, settings, COLD))
    # Every user dismisses their first two recommendations.
    rows = [u for u, found in before.items() for _ in found[:2]]
    columns = [p for found in before.values() for p in found[:2]]
    dismissed = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, columns)), shape=users.known.shape
    )
    after = _by_user(
        recommend(
            replace(users, dismissed=dismissed), projects, WEIGHTS, TOP_N, 0.0, settings, COLD
        )
    )
    assert set(after) == set(before)
    for user, found in before.items():
        assert not set(found[:2]) & set(after[user]), user
        assert after[user][:3] == found[2:5], user  # the rest move up, in their order


def test_dismissals_are_excluded_but_not_known() -> None:
    users, projects = synthetic_world(10, 50, seed=1)
    dismissed = sp.csr_matrix((np.ones(2, np.float32), ([0, 5], [4, 6])), shape=users.known.shape)
    scorer = Scorer(replace(users, dismissed=dismissed), projects)
    excluded = scorer.excluded(0, 10)
    assert excluded[0, 4] and excluded[5, 6]
    assert scorer.knows_nothing[0]  # a dismissal is no interaction
    scores = np.zeros((10, 50), np.float32)
    scorer.exclude(scores, 0)
    assert np.array_equal(np.isinf(scores), excluded)

"""Approximate candidates, exact rescoring: what the index finds is scored like exact mode."""

import numpy as np

from octorec.scoring.retrieval import _unique_rows
from octorec.scoring.similarity import Scorer, recommend
from octorec.settings import ContentWeights, Retrieval, ScorerSettings, ScoringWeights

from .synthetic import synthetic_world

WEIGHTS = ScoringWeights(
    semantic=0.4, category=0.0, tech_stack=0.2, popularity=0.0, collaborative=0.4
)
COLD = ContentWeights().as_scoring_weights()


def _pairs(result) -> dict[int, set[int]]:  # type: ignore[no-untyped-def]
    found: dict[int, set[int]] = {}
    for u, p in zip(result.user_index.tolist(), result.project_index.tolist(), strict=True):
        found.setdefault(u, set()).add(p)
    return found


def test_candidate_rows_are_distinct_ascending_and_padded() -> None:
    rows = _unique_rows(np.array([[5, 3, 5, -1], [2, 2, 2, 2]]))
    assert rows.tolist() == [[3, 5], [2, -1]]


def test_ann_mode_finds_nearly_every_exact_recommendation_and_scores_it_the_same() -> None:
    users, projects = synthetic_world(300, 3000, seed=2)
    exact = recommend(users, projects, WEIGHTS, 5, 0.05, cold_start_weights=COLD)
    ann = recommend(
        users,
        projects,
        WEIGHTS,
        5,
        0.05,
        cold_start_weights=COLD,
        scorer_settings=ScorerSettings(retrieval=Retrieval.ANN, ann_candidates=50),
    )
    exact_pairs, ann_pairs = _pairs(exact), _pairs(ann)
    recall = np.mean(
        [len(ann_pairs.get(u, set()) & wanted) / len(wanted) for u, wanted in exact_pairs.items()]
    )
    assert recall >= 0.95

    scorer = Scorer(users, projects)
    exact_score = {
        (u, p): s
        for u, p, s in zip(exact.user_index, exact.project_index, exact.score, strict=True)
    }
    shared = [
        (s, exact_score[(u, p)])
        for u, p, s in zip(ann.user_index, ann.project_index, ann.score, strict=True)
        if (u, p) in exact_score
    ]
    assert len(shared) >= 0.95 * len(exact)
    got, want = zip(*shared, strict=True)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert not scorer.users.known[ann.user_index, ann.project_index].any()
    assert scorer.eligible[ann.project_index].all()

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


def test_the_index_returns_the_best_inner_products_when_every_cell_is_probed(
    monkeypatch,
) -> None:
    import octorec.scoring.retrieval as retrieval

    users, projects = synthetic_world(40, 3000, seed=3)
    scorer = Scorer(users, projects)
    monkeypatch.setattr(retrieval, "PROJECTS_PER_LIST", 30)  # one cell per 30 eligible
    monkeypatch.setattr(retrieval, "PROBES", 100)
    index = retrieval.CandidateIndex(scorer, WEIGHTS)
    assert index.index.nlist > 50 and index.index.nprobe == index.index.nlist
    who = np.arange(40)
    found = index.search(scorer, who, 10)
    eligible = np.nonzero(scorer.eligible)[0]
    products = retrieval.query_vectors(scorer, who, WEIGHTS) @ (
        retrieval.project_vectors(scorer, WEIGHTS)[eligible].T
    )
    # The same best values (which of several tied projects is returned may differ).
    column = {project: i for i, project in enumerate(eligible.tolist())}
    got = np.take_along_axis(products, np.vectorize(column.get)(found), axis=1)
    want = -np.sort(-products, axis=1)[:, :10]
    np.testing.assert_allclose(-np.sort(-got, axis=1), want, atol=1e-5)

    monkeypatch.setattr(retrieval, "PROBES", 3)  # approximate: still eligible projects only
    few = retrieval.CandidateIndex(scorer, WEIGHTS).search(scorer, who, 10)
    assert np.isin(few[few >= 0], eligible).all()

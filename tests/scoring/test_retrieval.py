"""Approximate candidates, exact rescoring: what the index finds is scored like exact mode."""

import numpy as np

from octorec.scoring.ann import inner_products_by_index
from octorec.scoring.ranking import best_positive_columns, unique_rows
from octorec.scoring.recommend import recommend
from octorec.scoring.scorer import Scorer
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
    rows = unique_rows(np.array([[5, 3, 5, -1], [2, 2, 2, 2]]))
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
    import octorec.scoring.ann as ann_module

    users, projects = synthetic_world(40, 3000, seed=3)
    scorer = Scorer(users, projects)
    monkeypatch.setattr(ann_module, "PROJECTS_PER_LIST", 30)  # one cell per 30 eligible
    monkeypatch.setattr(ann_module, "PROBES", 100)
    index = ann_module.CandidateIndex(scorer, WEIGHTS)
    assert index.cells.nlist > 50 and index.cells.nprobe == index.cells.nlist
    who = np.arange(40)
    found = index.search(scorer, who, 10)
    eligible = np.nonzero(scorer.eligible)[0]
    products = ann_module.query_vectors(scorer, who, WEIGHTS) @ (
        ann_module.project_vectors(scorer, WEIGHTS)[eligible].T
    )
    # The same best values (which of several tied projects is returned may differ).
    column = {project: i for i, project in enumerate(eligible.tolist())}
    got = np.take_along_axis(products, np.vectorize(column.get)(found), axis=1)
    want = -np.sort(-products, axis=1)[:, :10]
    np.testing.assert_allclose(-np.sort(-got, axis=1), want, atol=1e-5)

    monkeypatch.setattr(ann_module, "PROBES", 3)  # approximate: still eligible projects only
    few = ann_module.CandidateIndex(scorer, WEIGHTS).search(scorer, who, 10)
    assert np.isin(few[few >= 0], eligible).all()


def test_best_positive_columns_are_each_rows_largest_positive_values() -> None:
    rng = np.random.default_rng(4)
    matrix = rng.standard_normal((50, 400)).astype(np.float32)
    matrix[3] = -1.0  # nothing positive
    matrix[4, :] = 0.0
    matrix[4, [7, 9]] = [0.5, 0.25]  # fewer positives than asked for
    matrix[5] = rng.uniform(0.01, 0.1, 400)  # the sampled columns alone set the threshold:
    matrix[5, ::8] = 1.0 + np.arange(50)  # it passes only 5 columns, the fallback the rest

    found = best_positive_columns(matrix, 20)

    for row in range(len(matrix)):
        positive = np.nonzero(matrix[row] > 0)[0]
        want = positive[np.argsort(-matrix[row, positive], kind="stable")][:20]
        got = found[row][found[row] >= 0]
        assert sorted(got.tolist()) == sorted(want.tolist()), row
    assert (found[3] == -1).all() and sorted(found[4][found[4] >= 0]) == [7, 9]


def test_inner_products_by_index_read_the_indexed_rows_and_mark_padding() -> None:
    rng = np.random.default_rng(5)
    queries = rng.standard_normal((6, 16)).astype(np.float32)
    vectors = rng.standard_normal((40, 16)).astype(np.float32)
    columns = rng.integers(0, 40, (6, 9))
    columns[2, 4] = -1

    got = inner_products_by_index(queries, vectors, columns)

    want = np.einsum("ud,ucd->uc", queries, vectors[np.maximum(columns, 0)])
    valid = columns >= 0
    np.testing.assert_allclose(got[valid], want[valid], rtol=1e-5, atol=1e-5)
    assert got[2, 4] == -np.inf


def test_a_quantised_index_still_finds_nearly_every_exact_recommendation(monkeypatch) -> None:
    import octorec.scoring.ann as ann_module

    users, projects = synthetic_world(300, 3000, seed=2)
    monkeypatch.setattr(ann_module, "QUANTISE_FROM", 1)  # codes even for a small catalogue
    settings = ScorerSettings(retrieval=Retrieval.ANN, ann_candidates=50)
    index = ann_module.CandidateIndex(Scorer(users, projects, settings), WEIGHTS)
    assert index.quantised and index.dimensions % (2 * ann_module.DIMS_PER_CODE) == 0
    exact = recommend(users, projects, WEIGHTS, 5, 0.05, cold_start_weights=COLD)
    ann = recommend(
        users, projects, WEIGHTS, 5, 0.05, cold_start_weights=COLD, scorer_settings=settings
    )
    exact_pairs, ann_pairs = _pairs(exact), _pairs(ann)
    recall = np.mean(
        [len(ann_pairs.get(u, set()) & wanted) / len(wanted) for u, wanted in exact_pairs.items()]
    )
    assert recall >= 0.95

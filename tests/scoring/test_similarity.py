"""Known-answer tests of the score, the Jaccard index and the ranking."""

import numpy as np
import pytest
import scipy.sparse as sp

from octorec.features import multi_hot
from octorec.scoring.explanations import matched_labels
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.labels import jaccard
from octorec.scoring.ranking import top_ranked
from octorec.scoring.recommend import recommend
from octorec.scoring.scorer import Scorer
from octorec.settings import (
    ORIGIN_WEIGHTS,
    ContentWeights,
    Retrieval,
    ScorerSettings,
    ScoringWeights,
)

SEED_WEIGHTS = ScoringWeights.model_validate(ORIGIN_WEIGHTS)
SEED_SUM = 1.3
"""The original design's weights sum to 1.3: every score is the weighted sum divided by it."""


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (["a", "b"], ["b", "c"], 1 / 3),
        (["a"], ["a"], 1.0),
        (["a", "b", "c", "d"], ["a", "b"], 0.5),
        (["a"], ["b"], 0.0),
        ([], ["a"], 0.0),
        (["a"], [], 0.0),
        ([], [], 0.0),  # empty sets are not similar, never 1
    ],
)
def test_jaccard_known_answers(left: list[str], right: list[str], expected: float) -> None:
    labels = ["a", "b", "c", "d"]
    result = jaccard(multi_hot([left], labels), multi_hot([right], labels))
    assert result.shape == (1, 1)
    assert result[0, 0] == pytest.approx(expected)


def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _projects() -> ProjectFeatures:
    return ProjectFeatures(
        names=["p/ml", "p/web", "p/opposite", "p/starred"],
        semantic=np.stack([_unit(1, 0), _unit(0.6, 0.8), _unit(-1, 0), _unit(1, 0)]),
        categories=[["ai-ml"], ["web-frontend"], ["ai-ml"], ["ai-ml"]],
        tech_stack=[["Python", "PyTorch"], ["TypeScript"], [], ["Python"]],
        popularity=np.array([0.5, 1.0, 0.0, 0.9], dtype=np.float32),
    )


def _users(known: list[list[int]]) -> UserFeatures:
    rows = [[1.0 if j in k else 0.0 for j in range(4)] for k in known]
    return UserFeatures(
        logins=["alice", "bob"],
        semantic=np.stack([_unit(1, 0), np.zeros(2, dtype=np.float32)]),
        categories=[["ai-ml"], []],
        tech_stack=[["Python"], []],
        known=sp.csr_matrix(np.asarray(rows, dtype=np.float32)),
    )


def test_scores_match_the_formula_by_hand() -> None:
    result = recommend(_users([[3], []]), _projects(), SEED_WEIGHTS, top_n=5, min_score=0.0)
    alice = {
        int(p): (float(s), float(sem), float(cat), float(tech), float(pop))
        for u, p, s, sem, cat, tech, pop in zip(
            result.user_index,
            result.project_index,
            result.score,
            result.components["semantic"],
            result.components["category"],
            result.components["tech_stack"],
            result.components["popularity"],
            strict=True,
        )
        if u == 0
    }
    # p/ml: cos 1, categories {ai-ml} vs {ai-ml} = 1, tech {Python} vs {Python, PyTorch} = 1/2
    ml = (0.25 + 0.45 + 0.5 * 0.5 + 0.1 * 0.5) / SEED_SUM
    assert alice[0] == pytest.approx((ml, 1, 1, 0.5, 0.5))
    # p/web: cos 0.6, no shared category or tech
    assert alice[1] == pytest.approx(((0.25 * 0.6 + 0.1 * 1.0) / SEED_SUM, 0.6, 0, 0, 1.0))
    # p/opposite: cos -1 clipped to 0, category 1, tech stack empty → 0
    assert alice[2] == pytest.approx((0.45 / SEED_SUM, 0, 1, 0, 0))
    assert 3 not in alice  # starred, never recommended


def test_ranking_is_best_first_and_respects_top_n_and_threshold() -> None:
    result = recommend(_users([[3], []]), _projects(), SEED_WEIGHTS, top_n=2, min_score=0.2)
    pairs = list(zip(result.user_index.tolist(), result.project_index.tolist(), strict=True))
    ranks = result.rank.tolist()
    # alice: p/ml (1.0 / 1.3), p/opposite (0.45 / 1.3); p/web (0.25 / 1.3) falls outside the
    # top 2.
    assert pairs[:2] == [(0, 0), (0, 2)]
    assert ranks[:2] == [1, 2]
    # bob knows nothing and has no features: the most popular projects, scored by popularity
    # alone (not weighted down under the threshold).
    bob = result.user_index == 1
    assert result.project_index[bob].tolist() == [1, 3]
    assert result.score[bob].tolist() == pytest.approx([1.0, 0.9])


@pytest.mark.parametrize("retrieval", list(Retrieval))
def test_scores_are_weighted_means_in_zero_one_for_known_and_cold_start_users(
    retrieval: Retrieval,
) -> None:
    # Issue 16: the cold-start weights sum to 1.3, so a cold-start user matching on every
    # component once showed "score 1.04". Both weightings here sum to more than 1.
    users = UserFeatures(
        logins=["alice", "carol"],
        semantic=np.stack([_unit(1, 0), _unit(1, 0)]),
        categories=[["ai-ml"], ["ai-ml"]],
        tech_stack=[["Python"], ["Python", "PyTorch"]],
        known=sp.csr_matrix(np.asarray([[0, 0, 0, 1], [0, 0, 0, 0]], dtype=np.float32)),
    )
    main = ScoringWeights(
        semantic=0.5, category=0.25, tech_stack=0.5, popularity=0.25, collaborative=0.0
    )
    result = recommend(
        users,
        _projects(),
        main,
        top_n=1,
        min_score=0.0,
        scorer_settings=ScorerSettings(retrieval=retrieval),
        cold_start_weights=ContentWeights().as_scoring_weights(),
    )
    best = dict(zip(result.user_index.tolist(), result.score.tolist(), strict=True))
    assert result.project_index.tolist() == [0, 0]  # p/ml for both
    # alice knows p/starred: cos 1, categories 1, tech {Python} vs {Python, PyTorch} 1/2, pop 0.5.
    assert best[0] == pytest.approx((0.5 + 0.25 + 0.5 * 0.5 + 0.25 * 0.5) / 1.5)
    # carol knows nothing: her profile vector (cos 1), categories 1, tech 1, popularity 0.5,
    # under the content weights 0.25 / 0.45 / 0.5 / 0.1.
    assert best[1] == pytest.approx((0.25 + 0.45 + 0.5 + 0.1 * 0.5) / 1.3)
    assert all(0.0 <= score <= 1.0 for score in result.score.tolist())


def test_a_user_with_no_signal_gets_popular_active_projects() -> None:
    projects = _projects()
    stale_web = ProjectFeatures(
        **{**projects.__dict__, "active": np.array([True, False, True, True])}
    )
    result = recommend(_users([[], []]), stale_web, SEED_WEIGHTS, top_n=1, min_score=0.0)
    bob = result.user_index == 1
    # p/web is the most popular but inactive: p/starred (0.9) is next.
    assert result.project_index[bob].tolist() == [3]
    assert result.score[bob].tolist() == pytest.approx([0.9])


def test_ineligible_projects_are_never_recommended() -> None:
    eligible = np.array([False, True, True, True])
    no_ml = ProjectFeatures(**{**_projects().__dict__, "eligible": eligible})
    result = recommend(_users([[3], []]), no_ml, SEED_WEIGHTS, top_n=5, min_score=0.0)
    assert 0 not in result.project_index.tolist()
    assert set(result.project_index[result.user_index == 0].tolist()) == {1, 2}


def test_the_collaborative_component_enters_the_score() -> None:
    # Three users; alice and carol both know p/ml and p/starred, bob knows p/starred only.
    # With only the collaborative weight, bob's best candidate is p/ml (co-starred with
    # p/starred twice), scaled to 1.
    users = UserFeatures(
        logins=["alice", "bob", "carol"],
        semantic=np.zeros((3, 2), dtype=np.float32),
        categories=[[], [], []],
        tech_stack=[[], [], []],
        known=sp.csr_matrix(np.array([[1, 0, 0, 1], [0, 0, 0, 1], [1, 0, 0, 1]], dtype=np.float32)),
    )
    weights = ScoringWeights(semantic=0, category=0, tech_stack=0, popularity=0, collaborative=1.0)
    plain = ScorerSettings(collaborative_regularization=1.0, collaborative_shrinkage=0.0)
    result = recommend(users, _projects(), weights, top_n=1, min_score=0.01, scorer_settings=plain)
    bob = result.user_index == 1
    assert result.project_index[bob].tolist() == [0]
    assert result.components["collaborative"][bob].tolist() == pytest.approx([1.0])
    assert result.score[bob].tolist() == pytest.approx([1.0])


def test_ties_go_to_the_lower_project_index() -> None:
    projects = ProjectFeatures(
        names=["a", "b", "c"],
        semantic=np.stack([_unit(1, 0)] * 3),
        categories=[[], [], []],
        tech_stack=[[], [], []],
        popularity=np.zeros(3, dtype=np.float32),
    )
    users = UserFeatures(
        logins=["u"],
        semantic=np.stack([_unit(1, 0)]),
        categories=[[]],
        tech_stack=[[]],
        known=sp.csr_matrix((1, 3), dtype=np.float32),
    )
    result = recommend(users, projects, SEED_WEIGHTS, top_n=2, min_score=0.0)
    assert result.project_index.tolist() == [0, 1]


def test_blocks_give_the_same_answer_as_one_pass() -> None:
    rng = np.random.default_rng(7)
    # 4,000 projects: a 1 MiB block budget holds a few users per block (the real seam).
    n_users, n_projects, labels = 37, 4000, ["a", "b", "c", "d", "e"]
    semantic_p = rng.normal(size=(n_projects, 8)).astype(np.float32)
    semantic_u = rng.normal(size=(n_users, 8)).astype(np.float32)
    pick = lambda: [str(x) for x in rng.choice(labels, size=rng.integers(0, 3), replace=False)]  # noqa: E731
    projects = ProjectFeatures(
        names=[f"p{i}" for i in range(n_projects)],
        semantic=semantic_p / np.linalg.norm(semantic_p, axis=1, keepdims=True),
        categories=[pick() for _ in range(n_projects)],
        tech_stack=[pick() for _ in range(n_projects)],
        popularity=rng.random(n_projects).astype(np.float32),
    )
    users = UserFeatures(
        logins=[f"u{i}" for i in range(n_users)],
        semantic=semantic_u / np.linalg.norm(semantic_u, axis=1, keepdims=True),
        categories=[pick() for _ in range(n_users)],
        tech_stack=[pick() for _ in range(n_users)],
        known=sp.random(n_users, n_projects, density=0.003, random_state=1, format="csr"),
    )
    one_pass = ScorerSettings(block_memory_mb=4096)
    small = ScorerSettings(block_memory_mb=1)
    assert Scorer(users, projects, small).block_rows(arrays=6) < n_users // 3
    whole = recommend(users, projects, SEED_WEIGHTS, 5, 0.1, scorer_settings=one_pass)
    blocked = recommend(users, projects, SEED_WEIGHTS, 5, 0.1, scorer_settings=small)
    np.testing.assert_array_equal(whole.user_index, blocked.user_index)
    np.testing.assert_array_equal(whole.project_index, blocked.project_index)
    np.testing.assert_allclose(whole.score, blocked.score)
    # And every kept score equals the brute-force formula.
    for u, p, s in zip(whole.user_index, whole.project_index, whole.score, strict=True):
        cat = jaccard(
            multi_hot([users.categories[u]], labels), multi_hot([projects.categories[p]], labels)
        )
        tech = jaccard(
            multi_hot([users.tech_stack[u]], labels), multi_hot([projects.tech_stack[p]], labels)
        )
        known = users.known[u].indices
        cosines = sorted(float(projects.semantic[k] @ projects.semantic[p]) for k in known)
        semantic = (
            max(0.0, sum(cosines[-10:]) / len(cosines[-10:]))
            if len(known)
            else max(0.0, float(users.semantic[u] @ projects.semantic[p]))
        )
        expected = (
            0.25 * semantic + 0.45 * cat[0, 0] + 0.5 * tech[0, 0] + 0.1 * projects.popularity[p]
        ) / SEED_SUM
        assert s == pytest.approx(expected, abs=1e-5)
        assert users.known[u, p] == 0


def test_matched_labels_explain_each_pair() -> None:
    assert matched_labels(
        [["a", "b"], ["c"]], [["b", "c"], ["a"]], np.array([0, 1]), np.array([0, 1])
    ) == [["b"], []]


def test_ties_at_the_cut_off_go_to_the_lower_index_like_a_stable_sort() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        scores = rng.integers(0, 3, size=(4, 9)).astype(np.float32)
        scores[rng.random(scores.shape) < 0.2] = -np.inf
        k = int(rng.integers(1, 9))
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top_ranked(scores, np.zeros_like(scores, bool), k), expected)

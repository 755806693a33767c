"""The fast scoring paths give exactly what the plain formula gives."""

import numpy as np
import pytest

from octorec.features import multi_hot, vocabulary
from octorec.scoring.labels import LabelScores, jaccard
from octorec.scoring.ranking import top_ranked
from octorec.scoring.recommend import recommend
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.scorer import Scorer
from octorec.scoring.semantic import semantic_for_pairs, semantic_similarity
from octorec.settings import ContentWeights, ScorerSettings, ScoringWeights

from .synthetic import synthetic_world

WEIGHTS = ScoringWeights(
    semantic=0.4, category=0.0, tech_stack=0.2, popularity=0.0, collaborative=0.4
)
COLD = ContentWeights().as_scoring_weights()


def test_label_sets_give_the_jaccard_matrix_and_its_pairs() -> None:
    users, projects = synthetic_world(30, 200)
    labels = vocabulary(users.tech_stack, projects.tech_stack)
    expected = jaccard(multi_hot(users.tech_stack, labels), multi_hot(projects.tech_stack, labels))
    tech = Scorer(users, projects, with_collaborative=False).scores["tech_stack"]
    assert isinstance(tech, LabelScores)
    np.testing.assert_array_equal(tech.block(0, 30), expected)
    u, p = np.array([0, 1, 5, 5, 29]), np.array([3, 0, 7, 199, 42])
    np.testing.assert_array_equal(tech.pairs(u, p), expected[u, p])


@pytest.mark.parametrize("neighbours", [0, 3, 10])
def test_pairwise_semantic_matches_the_matrix(neighbours: int) -> None:
    users, projects = synthetic_world(30, 200)
    matrix = semantic_similarity(users.known, users.semantic, projects.semantic, neighbours)
    rng = np.random.default_rng(1)
    u, p = rng.integers(0, 30, 500), rng.integers(0, 200, 500)
    pairs = semantic_for_pairs(users.known, users.semantic, projects.semantic, neighbours, u, p)
    np.testing.assert_allclose(pairs, matrix[u, p], atol=1e-6)


def test_exact_recommendations_equal_the_plain_formula_over_all_components() -> None:
    users, projects = synthetic_world(60, 3000)
    # A 1 MiB budget: blocks of a few users against 3,000 projects (the real seam).
    small = ScorerSettings(block_memory_mb=1)
    assert Scorer(users, projects, small).block_rows(arrays=6) < 20
    result = recommend(
        users, projects, WEIGHTS, 5, 0.05, scorer_settings=small, cold_start_weights=COLD
    )

    scorer = Scorer(users, projects, small)  # the same semantic path as the blocks
    n = len(users.logins)
    components = scorer.components(0, n)
    total = scorer.total(components, WEIGHTS, 0, n, COLD)
    best = top_ranked(total, scorer.excluded(0, n), 5)
    expected = [
        (u, int(p), float(total[u, p]))
        for u in range(n)
        for p in best[u]
        if np.isfinite(np.where(scorer.excluded(u, u + 1)[0], -np.inf, total[u])[p])
        and total[u, p] >= 0.05
    ]
    got = list(
        zip(
            result.user_index.tolist(),
            result.project_index.tolist(),
            result.score.tolist(),
            strict=True,
        )
    )
    assert [(u, p) for u, p, _ in got] == [(u, p) for u, p, _ in expected]
    # Equal to float32 rounding: BLAS sums a block of users in another order than all of them
    # (bitwise equality held only for some block shapes and core counts; it failed before too).
    np.testing.assert_allclose(
        [s for *_, s in got], np.float32([s for *_, s in expected]), rtol=0, atol=1e-6
    )
    for name in COMPONENTS:
        np.testing.assert_allclose(
            result.components[name],
            components[name][result.user_index, result.project_index],
            atol=1e-6,
            err_msg=name,
        )
    assert {0, 1} <= set(result.user_index.tolist())  # no signal: popular; cold: content


def test_the_block_size_follows_the_memory_budget() -> None:
    users, projects = synthetic_world(10, 1000)
    scorer = Scorer(users, projects, ScorerSettings(block_memory_mb=1), with_collaborative=False)
    assert scorer.block_rows(arrays=4) == 2**20 // (4 * 4 * 1000)

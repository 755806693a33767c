"""Known-answer tests of the validation-side tuning: grid, vectorised NDCG, weight fitting."""

import numpy as np
import pytest

from octorec.evaluation.metrics import ndcg_at_k
from octorec.evaluation.tuning import RelevanceTarget, fit_weights, pick_best, simplex_grid
from octorec.scoring.registry import COMPONENTS
from octorec.settings import ScoringWeights

NAMES = ["a/one", "a/two", "a/three", "a/four"]


def test_the_simplex_grid_holds_every_split_of_one() -> None:
    assert simplex_grid(2, 0.5) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    assert len(simplex_grid(5, 0.1)) == 1001  # C(14, 4)
    assert all(sum(w) == pytest.approx(1.0) for w in simplex_grid(3, 0.25))


def _target(excluded: np.ndarray | None = None) -> RelevanceTarget:
    excluded = np.zeros((2, 4), dtype=bool) if excluded is None else excluded
    # user 0 held out a/two and a/four; user 1 held out a/one and one project outside the catalogue
    return RelevanceTarget.build(
        {0: ["A/Two", "a/four"], 1: ["a/one", "gone/away"]}, NAMES, excluded
    )


def test_vectorised_ndcg_equals_the_per_user_metric() -> None:
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.2, 0.1, 0.9, 0.3]])
    target = _target()
    expected = np.mean(
        [
            ndcg_at_k(["a/one", "a/two", "a/four"], {"a/two", "a/four"}, 3),
            ndcg_at_k(["a/three", "a/four", "a/one"], {"a/one", "gone/away"}, 3),
        ]
    )
    assert target.ndcg(scores, 3) == pytest.approx(expected)


def test_excluded_projects_never_count_as_hits() -> None:
    excluded = np.array([[False, True, False, False], [False, False, False, False]])
    scores = np.array([[0.1, 0.9, 0.2, 0.3], [0.9, 0.1, 0.2, 0.3]])
    with_exclusion = _target(excluded).ndcg(scores, 1)
    # user 0's top is a/two (relevant) but excluded: a/four (relevant) comes first instead.
    assert with_exclusion == pytest.approx(1.0)


def test_fit_weights_finds_the_informative_component() -> None:
    informative = np.array([[0.0, 1.0, 0.0, 0.9], [1.0, 0.0, 0.1, 0.0]])
    misleading = 1.0 - informative

    def total(weights: ScoringWeights, fold: int, shrinkage: float) -> np.ndarray:
        assert fold == 0
        # Shrinkage 1 turns the collaborative signal into noise; 0 keeps it.
        collaborative = informative if shrinkage == 0 else misleading
        return weights.collaborative * collaborative + weights.popularity * misleading

    fitted = fit_weights(total, [_target()], k=2, step=0.5, shrinkages=(1.0, 0.0))
    assert fitted.weights.collaborative == 1.0
    assert fitted.weights.popularity == 0.0
    assert fitted.shrinkage == 0.0
    assert fitted.candidates == 2 * len(simplex_grid(len(COMPONENTS), 0.5))
    assert fitted.validation_ndcg == pytest.approx(_target().ndcg(informative, 2))


def test_pick_best_prefers_the_better_setting_then_the_smaller() -> None:
    good = np.array([[0.0, 1.0, 0.0, 0.9], [1.0, 0.0, 0.1, 0.0]])
    bad = 1.0 - good
    assert pick_best({50: [bad], 20: [good], 10: [good]}, [_target()], 2)[0] == 10

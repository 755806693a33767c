"""Stage 1: the union of each signal's best allowed projects."""

from __future__ import annotations

import numpy as np
import pytest

from octorec.ranker.candidates import allowed_rank, allowed_rank_at, candidate_mask
from octorec.ranker.features import FEATURE_NAMES, PairFeaturizer
from octorec.ranker.statistics import CatalogueStats
from octorec.scoring.profiles import profile_features
from octorec.scoring.scorer import Scorer
from octorec.settings import ScorerSettings
from tests.ranker.world import language_world


def test_candidates_are_the_union_of_each_signals_best_allowed_projects():
    excluded = np.array([[True, False, False, False, False]])
    signals = {
        "semantic": np.array([[9.0, 0.5, 0.4, 0.0, 0.1]]),
        "popularity": np.array([[9.0, 0.0, 1.0, 3.0, 2.0]]),
    }
    mask = candidate_mask(signals, excluded, 2)
    # semantic: 1, 2 (0 is excluded); popularity: 3, 4.
    assert mask.tolist() == [[False, True, True, True, True]]


def test_a_signal_proposes_only_what_it_scores_above_zero():
    excluded = np.zeros((1, 4), dtype=bool)
    mask = candidate_mask({"semantic": np.array([[0.0, 0.2, 0.0, 0.0]])}, excluded, 3)
    assert mask.tolist() == [[False, True, False, False]]


def test_allowed_rank_puts_excluded_projects_last_and_ties_to_the_lower_index():
    values = np.array([[0.5, 0.9, 0.5, 1.0]])
    excluded = np.array([[False, False, False, True]])
    assert allowed_rank(values, excluded).tolist() == [[1, 0, 2, 3]]


@pytest.mark.parametrize("seed", range(40))
def test_ranks_at_chosen_pairs_equal_the_full_ranking(seed):
    rng = np.random.default_rng(seed)
    users, projects = int(rng.integers(1, 6)), int(rng.integers(1, 50))
    # Few distinct values (ties, -0.0 against 0.0, -inf like an exclusion) or none alike.
    pool = np.array([0.0, -0.0, 0.25, 0.5, 1.0, -2.0, -np.inf], dtype=np.float32)
    values = (
        rng.choice(pool, size=(users, projects))
        if seed % 2
        else rng.random((users, projects)).astype(np.float32)
    )
    excluded = rng.random((users, projects)) < 0.3
    rows, columns = np.nonzero(rng.random((users, projects)) < 0.6)
    shuffled = rng.permutation(len(rows))  # asked in any order
    rows, columns = rows[shuffled], columns[shuffled]
    expected = allowed_rank(values, excluded)[rows, columns]
    assert allowed_rank_at(values, excluded, rows, columns).tolist() == expected.tolist()


def test_ranks_at_chosen_pairs_of_float64_or_nan_values_equal_the_full_ranking():
    values = np.array([[0.5, np.nan, 0.5, 0.1], [0.2, 0.2, 0.2, 0.9]])
    excluded = np.array([[False, False, False, True], [False, True, False, False]])
    rows, columns = np.array([0, 0, 1, 1, 1]), np.array([0, 2, 0, 2, 3])
    expected = allowed_rank(values, excluded)[rows, columns].tolist()
    assert allowed_rank_at(values, excluded, rows, columns).tolist() == expected
    finite = np.nan_to_num(values)
    expected = allowed_rank(finite, excluded)[rows, columns].tolist()
    assert allowed_rank_at(finite, excluded, rows, columns).tolist() == expected


def test_pair_features_cover_every_candidate_and_leave_known_and_ineligible_out():
    profiles, projects = language_world(n_users=12, n_projects=60)
    eligible = np.arange(60) % 5 != 0
    projects = type(projects)(**{**projects.__dict__, "eligible": eligible})
    users = profile_features(profiles, projects, 0.3)
    scorer = Scorer(users, projects, ScorerSettings(block_memory_mb=1))
    featurizer = PairFeaturizer(scorer, CatalogueStats.from_run(users.known, projects), 5)
    blocks = list(featurizer.blocks())
    user_index = np.concatenate([b.user_index for b in blocks])
    project_index = np.concatenate([b.project_index for b in blocks])
    features = np.concatenate([b.features for b in blocks])
    assert features.shape == (len(user_index), len(FEATURE_NAMES))
    assert np.all(eligible[project_index])
    assert not np.any(np.asarray(users.known[user_index, project_index]).ravel())
    assert np.all(np.diff(user_index) >= 0)
    # Every user gets at least the popularity signal's 5, at most 4 signals × 5.
    counts = np.bincount(user_index, minlength=12)
    assert counts.min() >= 5 and counts.max() <= 20
    share = features[:, FEATURE_NAMES.index("language_share")]
    assert np.all((share >= 0) & (share <= 1)) and share.max() > 0.5

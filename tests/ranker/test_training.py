"""The ranker's fit: it learns the signal that predicts held-out stars, falls back on tiny data,
is deterministic, and survives a JSON round trip with identical scores."""

from __future__ import annotations

import numpy as np
import pytest

from octorec.ranker import (
    CatalogueStats,
    RankingModel,
    rank,
    scorer_settings_for,
    train_model,
)
from octorec.ranker.training import FitOutcome, best_rounds
from octorec.scoring.profiles import profile_features
from octorec.scoring.scorer import Scorer
from octorec.settings import RankerSettings, Settings
from tests.ranker.world import language_world

SETTINGS = Settings(ranker=RankerSettings(candidates_per_signal=25, min_positives=20))


@pytest.fixture(scope="module")
def world():
    return language_world()


@pytest.fixture(scope="module")
def fitted(world) -> FitOutcome:
    profiles, projects = world
    return train_model(profiles, projects, SETTINGS, seed=7)


def test_the_ranker_learns_the_signal_that_predicts_the_held_out_stars(fitted: FitOutcome):
    assert fitted.model is not None, fitted.reason
    metrics = fitted.metrics
    for single in ("popularity", "ease", "content_knn", "labels", "formula"):
        for metric in ("recall@10", "ndcg@10"):
            assert metrics["ranker"][metric] > metrics[single][metric], (single, metric, metrics)


def test_the_language_feature_carries_the_model(fitted: FitOutcome):
    model = fitted.model
    assert model is not None
    importance = dict(
        zip(model.feature_names, model.booster.feature_importance("gain"), strict=True)
    )
    assert max(importance, key=importance.__getitem__) == "language_share", importance


def test_the_model_records_what_it_was_fitted_with(fitted: FitOutcome):
    model = fitted.model
    assert model is not None
    assert len(model.version) == 16
    assert model.settings["ranker"]["candidates_per_signal"] == 25
    assert model.settings["lightgbm"]["rounds"] >= 1
    assert model.collaborative_regularization in (10.0, 30.0, 100.0, 300.0, 1000.0)
    assert model.fit_seconds > 0
    assert set(model.validation) >= {"ranker", "formula", "popularity", "ease"}


def test_two_fits_give_the_same_model_text(world, fitted: FitOutcome):
    profiles, projects = world
    again = train_model(profiles, projects, SETTINGS, seed=7)
    assert again.model is not None and fitted.model is not None
    assert again.model.model_text == fitted.model.model_text
    assert again.model.to_json() == fitted.model.to_json().replace(
        f'"fit_seconds": {fitted.model.fit_seconds}', f'"fit_seconds": {again.model.fit_seconds}'
    )


def _ranked(world, model: RankingModel):
    profiles, projects = world
    users = profile_features(profiles, projects, SETTINGS.user_profile_weight)
    scorer = Scorer(users, projects, scorer_settings_for(model, SETTINGS.scorer))
    return scorer, rank(scorer, model, CatalogueStats.from_run(users.known, projects), 10, 0.05)


def test_a_json_round_trip_gives_identical_scores(world, fitted: FitOutcome):
    model = fitted.model
    assert model is not None
    loaded = RankingModel.from_json(model.to_json())
    assert loaded.version == model.version
    _, first = _ranked(world, model)
    _, second = _ranked(world, loaded)
    assert len(first) > 0
    np.testing.assert_array_equal(first.recommendations.score, second.recommendations.score)
    np.testing.assert_array_equal(
        first.recommendations.project_index, second.recommendations.project_index
    )


def test_ranked_scores_are_probabilities_above_the_floor_and_explained(world, fitted):
    model = fitted.model
    scorer, ranked = _ranked(world, model)
    result = ranked.recommendations
    assert np.all((result.score >= 0) & (result.score <= 1))
    assert np.all(ranked.formula_score >= 0.05)
    known = scorer.users.known
    assert not np.any(np.asarray(known[result.user_index, result.project_index]).ravel())
    for user in np.unique(result.user_index):
        rows = result.user_index == user
        assert result.rank[rows].tolist() == list(range(1, rows.sum() + 1))
        assert np.all(np.diff(ranked.raw_score[rows]) <= 0)
        assert rows.sum() <= 10
    reasons = ranked.reasons(scorer)
    assert len(reasons) == len(result)
    assert all(r.startswith("like ") for r in reasons)
    # The language share, the signal of this world, is credited to the tech stack.
    mean = {name: float(np.mean(values)) for name, values in ranked.contributions.items()}
    assert max(mean, key=mean.__getitem__) == "tech_stack", mean


def test_tiny_data_gives_no_model_and_says_why():
    profiles, projects = language_world(n_users=6)
    outcome = train_model(profiles, projects, SETTINGS, seed=7)
    assert outcome.model is None
    assert "RANKER_MIN_USERS" in outcome.reason and "6 users" in outcome.reason


def test_too_few_positives_gives_no_model_and_says_why(world):
    profiles, projects = world
    settings = Settings(ranker=RankerSettings(candidates_per_signal=25, min_positives=100_000))
    outcome = train_model(profiles, projects, settings, seed=7)
    assert outcome.model is None
    assert "RANKER_MIN_POSITIVES" in outcome.reason


def test_a_model_of_other_features_is_refused(fitted: FitOutcome):
    model = fitted.model
    assert model is not None
    tampered = model.to_json().replace('"language_share"', '"language_age"')
    with pytest.raises(ValueError, match="fit it again"):
        RankingModel.from_json(tampered)
    with pytest.raises(ValueError, match="does not match its version"):
        RankingModel.from_json(model.to_json().replace("num_leaves=", "num_leaves= "))


def test_the_rounds_are_chosen_on_the_mean_over_the_folds():
    # Fold 1 peaks at round 2, fold 2 at round 4 and stopped there; fold 2 is flat after its end.
    curves = [np.array([0.1, 0.5, 0.4, 0.3, 0.3, 0.2]), np.array([0.1, 0.2, 0.3, 0.6])]
    rounds, score = best_rounds(curves)
    # Means: 0.1, 0.35, 0.35, 0.45, 0.45, 0.4: round 4 (the first of the tie with round 5).
    assert rounds == 4
    assert score == pytest.approx(0.45)
    assert best_rounds([np.array([0.3, 0.2])]) == (1, pytest.approx(0.3))

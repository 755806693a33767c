"""The evaluation's ranker never sees a test star: not in its training data, and a star planted
in the test split changes nothing in the fitted model (real dbt, the real model)."""

from dataclasses import replace
from pathlib import Path

import pytest

from octorec.evaluation.pipeline import EvaluationWarehouse
from octorec.evaluation.run import _pairs, check_no_leak, fit_ranker, read_snapshot
from octorec.evaluation.split import HoldoutSplit, holdout_split
from octorec.ranker.folds import owns
from octorec.scoring.profiles import Profile
from octorec.settings import RankerSettings, load_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(sample_slice: Path, tmp_path_factory: pytest.TempPathFactory):
    data = read_snapshot(
        sample_slice / "repos.csv", sample_slice / "user_stars.csv", sample_slice / "users.csv"
    )
    ranker = RankerSettings(min_users=2, min_positives=1, folds=2, candidates_per_signal=20)
    settings = load_settings().model_copy(update={"ranker": ranker})
    database = tmp_path_factory.mktemp("no-leak") / "evaluation.duckdb"
    scratch = EvaluationWarehouse(data, settings, database)
    scratch.prepare_projects()
    interactions = [(i.user_login.lower(), i.repo_full_name.lower()) for i in data.interactions]
    return scratch, holdout_split(interactions, 0.2, 42, 5)


def _fit(scratch: EvaluationWarehouse, split: HoldoutSplit):
    _, projects = scratch.features_for(_pairs(split.train))
    return scratch.profiles(), fit_ranker(scratch, split, projects, 42)


def test_the_ranker_trains_on_no_test_star_and_a_planted_one_changes_nothing(prepared):
    scratch, split = prepared
    profiles, outcome = _fit(scratch, split)
    assert outcome.model is not None, outcome.reason
    known = {(p.login.lower(), name.lower()) for p in profiles for name in p.known}
    # A held-out star of a project the user owns stays known as owned, in the test as well.
    assert known.isdisjoint(pair for pair in _pairs(split.test) if not owns(*pair))
    assert known & set(_pairs(split.train))

    # A star of a repository nobody starred, in the data and in the test split only.
    user = sorted(split.test)[0]
    starred = {repo for _, repo in _pairs(split.train)} | {r for _, r in _pairs(split.test)}
    marker = next(
        r.full_name for r in scratch.data.repositories if r.full_name.lower() not in starred
    )
    login = next(i.user_login for i in scratch.data.interactions if i.user_login.lower() == user)
    template = next(i for i in scratch.data.interactions if i.user_login == login)
    planted_data = replace(
        scratch.data,
        interactions=[
            *scratch.data.interactions,
            replace(template, repo_full_name=marker),
        ],
    )
    planted = HoldoutSplit(
        train=split.train, test={**split.test, user: [*split.test[user], marker.lower()]}
    )
    other = EvaluationWarehouse(planted_data, scratch.settings, scratch.database)
    _, again = _fit(other, planted)
    assert again.model is not None
    assert again.model.model_text == outcome.model.model_text
    assert again.model.training_fingerprint == outcome.model.training_fingerprint


def test_a_test_star_among_the_training_users_is_refused(prepared):
    _, split = prepared
    user = sorted(split.test)[0]
    leaked = [Profile(login=user, known=[split.test[user][0]])]
    with pytest.raises(RuntimeError, match="reached the ranker's training data"):
        check_no_leak(leaked, split)

"""`score_users` against a `ScoringContext`: the one seam of batch and request-time scoring.

The known answer is the batch's own: users scored one at a time against a context give the rows
all of them scored together give, in exact and ANN mode; and the request-time options narrow
the candidates without changing any score.
"""

from __future__ import annotations

import numpy as np
import pytest

from octorec.scoring.context import build_context, select_users
from octorec.scoring.person import Person, recommend_person
from octorec.scoring.store import score_users
from octorec.settings import Retrieval, ScorerSettings, Settings

from .synthetic import synthetic_world

COLUMNS = ("project_full_name", "rank", "score", "reason", "semantic_similarity")


def _settings(retrieval: Retrieval = Retrieval.EXACT) -> Settings:
    return Settings(scorer=ScorerSettings(retrieval=retrieval), min_similarity=0.0, top_n=6)


def _rows(table, login: str) -> list[tuple]:
    rows = [r for r in table.to_pylist() if r["user_login"] == login]
    return [tuple(r[c] for c in COLUMNS) for r in rows]


@pytest.mark.parametrize("retrieval", [Retrieval.EXACT, Retrieval.ANN])
def test_one_user_at_a_time_gets_the_rows_of_the_whole_batch(retrieval: Retrieval) -> None:
    users, projects = synthetic_world(80, 600, seed=3)
    settings = _settings(retrieval)
    context = build_context(projects, users.known, settings)
    batch = score_users(users, context, settings, "run")
    assert batch.num_rows > 0
    for row in (0, 1, 2, 17, 79):  # no signal, labels only, and users who know projects
        alone = score_users(select_users(users, [row]), context, settings, "run")
        login = users.logins[row]
        expected, found = _rows(batch, login), _rows(alone, login)
        assert [r[:2] for r in found] == [r[:2] for r in expected], login
        np.testing.assert_allclose([r[2] for r in found], [r[2] for r in expected], atol=1e-6)
        assert [r[3] for r in found] == [r[3] for r in expected]


def test_a_person_described_by_their_stars_gets_the_stored_users_rows() -> None:
    from octorec.scoring.profiles import Profile, profile_features

    users, projects = synthetic_world(60, 400, seed=8)
    # Stored users as the pipeline builds them from their stars alone (labels derived from
    # them, the vector their mean): the same input a person naming those stars gives.
    stored = profile_features(
        [
            Profile(login=login, known=[projects.names[j] for j in users.known[i].indices])
            for i, login in enumerate(users.logins)
        ],
        projects,
        profile_weight=0.3,
    )
    settings = _settings()
    context = build_context(projects, stored.known, settings)
    batch = score_users(stored, context, settings, "run")
    for row in (5, 12, 40):
        person = Person(starred=[projects.names[j].upper() for j in stored.known[row].indices])
        answer = recommend_person(person, context, settings, "run")
        expected = _rows(batch, stored.logins[row])
        found = _rows(answer.table, "(on request)")
        assert expected and [r[:2] for r in found] == [r[:2] for r in expected]
        np.testing.assert_allclose([r[2] for r in found], [r[2] for r in expected], atol=1e-6)
        assert answer.unknown_projects == []


def test_exclusions_and_filters_narrow_the_candidates_without_changing_scores() -> None:
    users, projects = synthetic_world(40, 300, seed=11)
    settings = _settings()
    context = build_context(projects, users.known, settings)
    one = select_users(users, [9])
    full = score_users(one, context, settings, "run", top_n=20).to_pylist()
    dropped = {full[0]["project_full_name"], full[3]["project_full_name"].upper()}
    narrowed = score_users(one, context, settings, "run", top_n=18, exclude=dropped).to_pylist()
    kept = [r for r in full if r["project_full_name"].upper() not in {d.upper() for d in dropped}]
    assert [(r["project_full_name"], r["score"]) for r in narrowed] == [
        (r["project_full_name"], r["score"]) for r in kept
    ]
    assert [r["rank"] for r in narrowed] == list(range(1, 19))
    only = score_users(one, context, settings, "run", top_n=20, categories=["ML"]).to_pylist()
    assert only and all("ml" in projects.categories[int(r["project_full_name"][1:])] for r in only)
    scores = {r["project_full_name"]: r["score"] for r in full}
    for r in only:
        if r["project_full_name"] in scores:
            assert r["score"] == scores[r["project_full_name"]]


def test_scoring_with_other_settings_than_the_contexts_is_refused() -> None:
    users, projects = synthetic_world(20, 100, seed=2)
    context = build_context(projects, users.known, _settings())
    with pytest.raises(ValueError, match="other scoring settings"):
        score_users(users, context, Settings(min_similarity=0.5), "run")

"""Checks on what users read (issue 18, items 7, 8 and 13): the check logic on hand-built
tables, the scoring asset called directly on a real DuckDB file, and one Dagster materialisation
whose check results are recorded."""

from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from octorec import constants as c
from octorec.defs import similarities
from octorec.defs.embeddings import project_hybrid_embeddings, user_embeddings
from octorec.defs.resources import OctorecResource
from octorec.scoring import checks
from octorec.scoring.store import score_all
from octorec.warehouse import open_warehouse
from octorec.warehouse.vectors import vectors_to_arrow
from tests.defs.hand_built import KNOWS, create_scoring_users, fill_projects, fill_users


def _recommendations(rows: list[tuple[str, str, float]]) -> pa.Table:
    return pa.table(
        {
            "user_login": [r[0] for r in rows],
            "project_full_name": [r[1] for r in rows],
            "score": pa.array([r[2] for r in rows], pa.float64()),
        }
    )


KNOWN = pa.table({"user_login": ["alice", "bob"], "project_full_name": ["a/x", "b/y"]})
GOOD = _recommendations([("alice", "a/y", 0.9), ("alice", "a/z", 0.5), ("bob", "b/z", 0.4)])


def _failed(outcomes: list[checks.CheckOutcome]) -> set[str]:
    return {o.name for o in outcomes if not o.passed}


def test_the_recommendation_checks_pass_on_a_good_table() -> None:
    outcomes = checks.recommendation_checks(
        GOOD, KNOWN, top_n=2, min_similarity=0.1, users=2, previous=(2, 2)
    )
    assert [o.name for o in outcomes] == [
        checks.AT_MOST_TOP_N,
        checks.NOTHING_ALREADY_KNOWN,
        checks.SCORES_FINITE_ABOVE_THRESHOLD,
        checks.COVERAGE_HELD,
    ]
    assert _failed(outcomes) == set()


@pytest.mark.parametrize(
    ("planted", "failing"),
    [
        ([("alice", "a/w", 0.3)], checks.AT_MOST_TOP_N),
        ([("bob", "b/y", 0.3)], checks.NOTHING_ALREADY_KNOWN),
        ([("bob", "b/w", float("nan"))], checks.SCORES_FINITE_ABOVE_THRESHOLD),
        ([("bob", "b/w", float("inf"))], checks.SCORES_FINITE_ABOVE_THRESHOLD),
        ([("bob", "b/w", 0.01)], checks.SCORES_FINITE_ABOVE_THRESHOLD),
    ],
)
def test_each_recommendation_check_fails_on_planted_bad_rows(
    planted: list[tuple[str, str, float]], failing: str
) -> None:
    table = pa.concat_tables([GOOD, _recommendations(planted)])
    outcomes = checks.recommendation_checks(
        table, KNOWN, top_n=2, min_similarity=0.1, users=2, previous=None
    )
    assert _failed(outcomes) == {failing}
    failed = next(o for o in outcomes if o.name == failing)
    assert "1 " in failed.description and failed.metadata


def test_the_coverage_check_fails_when_users_without_recommendations_jump() -> None:
    assert checks.coverage_held(100, 95, previous=(100, 100)).passed
    dropped = checks.coverage_held(100, 60, previous=(100, 98))
    assert not dropped.passed
    assert "40.0%" in dropped.description and "2.0%" in dropped.description


def test_the_embedding_check_wants_the_model_dimension_and_unit_norm() -> None:
    rng = np.random.default_rng(0)
    unit = rng.normal(size=(4, 8))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    assert checks.embeddings_unit_norm(vectors_to_arrow(unit), 8).passed
    scaled = unit.copy()
    scaled[2] *= 1.5
    outcome = checks.embeddings_unit_norm(vectors_to_arrow(scaled), 8)
    assert not outcome.passed and outcome.metadata["not_unit"] == 1
    wrong = checks.embeddings_unit_norm(vectors_to_arrow(unit), 16)
    assert not wrong.passed and "MODEL_DIMENSIONS=16" in wrong.description
    zero = unit.copy()
    zero[0] = 0
    assert not checks.embeddings_unit_norm(vectors_to_arrow(zero), 8).passed
    assert checks.embeddings_unit_norm(vectors_to_arrow(zero), 8, zero_allowed=True).passed


@pytest.fixture
def ready(monkeypatch: pytest.MonkeyPatch, database: Path) -> Path:
    """A DuckDB file with the scoring asset's inputs made by hand (as tests/defs/test_assets)."""
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    fill_projects(database, with_semantic=True)
    fill_users(database)
    with dg.build_resources({"octorec": OctorecResource()}) as resources:
        context = dg.build_asset_context()
        project_hybrid_embeddings(context, resources.octorec)
        users = user_embeddings(context, resources.octorec)
    assert [(r.check_name, r.passed) for r in users.check_results or []] == [
        (checks.EMBEDDINGS_UNIT_NORM, True)
    ]
    with open_warehouse(database) as warehouse:
        create_scoring_users(warehouse)
    return database


def _score() -> dg.MaterializeResult:
    with dg.build_resources({"octorec": OctorecResource()}) as resources:
        return similarities.user_project_similarities(dg.build_asset_context(), resources.octorec)


def _stored(database: Path) -> list[tuple]:
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(
            f"SELECT user_login, project_full_name, score, run_id "
            f"FROM {c.USER_PROJECT_SIMILARITIES} ORDER BY 1, 2"
        ).to_pylist()
    return [tuple(r.values()) for r in rows]


def test_a_normal_run_passes_every_check(ready: Path) -> None:
    result = _score()
    assert {r.check_name: r.passed for r in result.check_results or []} == {
        checks.AT_MOST_TOP_N: True,
        checks.NOTHING_ALREADY_KNOWN: True,
        checks.SCORES_FINITE_ABOVE_THRESHOLD: True,
        checks.COVERAGE_HELD: True,
    }
    assert _stored(ready)


def test_a_run_that_recommends_nothing_keeps_the_stored_table(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _score()
    before = _stored(ready)
    assert before
    monkeypatch.setenv("RECOMMENDATION_MIN_SIMILARITY", "5")
    with pytest.raises(dg.Failure, match="recommends nothing to any of 2 users") as failure:
        _score()
    assert "OCTOREC_ALLOW_EMPTY_RESULTS" in str(failure.value.description)
    assert _stored(ready) == before
    monkeypatch.setenv("OCTOREC_ALLOW_EMPTY_RESULTS", "1")
    assert _score().metadata["dagster/row_count"] == 0
    assert _stored(ready) == []


def test_users_who_left_take_their_recommendations_with_them(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _score()
    assert _stored(ready)
    with open_warehouse(ready) as warehouse:  # the snapshot no longer has these users
        warehouse.execute(f"DELETE FROM {c.DBT_USER_PROJECT_SIMILARITIES}")
    assert _score().metadata["dagster/row_count"] == 0
    assert _stored(ready) == []


def test_a_step_that_fails_after_scoring_publishes_nothing(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _score()
    before = _stored(ready)

    def broken(*args: object, **kwargs: object) -> dict:
        raise OverflowError("Python int too large to convert to C long")

    monkeypatch.setattr(similarities, "_metadata", broken)
    monkeypatch.setenv("RECOMMENDATION_MIN_SIMILARITY", "0.0")
    with pytest.raises(OverflowError):
        _score()
    assert _stored(ready) == before


def test_a_failing_blocking_check_keeps_the_stored_table(
    ready: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _score()
    before = _stored(ready)

    def with_a_known_project(*args, **kwargs):  # type: ignore[no-untyped-def]
        summary = score_all(*args, **kwargs)
        table = summary.table
        names = table.column("project_full_name").to_pylist()
        logins = table.column("user_login").to_pylist()
        planted = [KNOWS[login] for login in logins]  # every row: a project the user knows
        assert planted != names
        index = table.column_names.index("project_full_name")
        bad = table.set_column(index, "project_full_name", pa.array(planted, pa.string()))
        return type(summary)(**{**summary.__dict__, "table": bad})

    monkeypatch.setattr(similarities, "score_all", with_a_known_project)
    with pytest.raises(dg.Failure, match=f"check {checks.NOTHING_ALREADY_KNOWN} failed"):
        _score()
    assert _stored(ready) == before


def test_dagster_records_the_checks_of_a_materialisation(ready: Path) -> None:
    result = dg.materialize([similarities._asset(1)], resources={"octorec": OctorecResource()})
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {
        checks.AT_MOST_TOP_N,
        checks.NOTHING_ALREADY_KNOWN,
        checks.SCORES_FINITE_ABOVE_THRESHOLD,
        checks.COVERAGE_HELD,
    }
    assert all(e.passed for e in evaluations.values())
    spec_blocking = {s.name: s.blocking for s in similarities._asset(1).check_specs}
    assert spec_blocking[checks.NOTHING_ALREADY_KNOWN] and not spec_blocking[checks.COVERAGE_HELD]

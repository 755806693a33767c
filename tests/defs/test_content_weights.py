"""A content weight of 0 removes that component from cold-start scores and changes nothing
else: each fact the scorer uses is read from the table that owns it, never from the hybrid
vectors (whose blocks the content weights scale).

The whole job runs on the sample slice once with the default weights (`pipeline_run`), then
once per content weight set to 0, each on a copy of that database (its embedding cache, so
nothing is embedded again)."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from octorec.definitions import defs
from octorec.settings import ContentWeights, ScoringWeights
from octorec.warehouse import open_warehouse
from tests.conftest import COLD_START_LOGIN, NO_SIGNAL_LOGIN

pytestmark = pytest.mark.slow

CONTENT = ("semantic", "category", "tech_stack", "popularity")
COMPONENTS = (*CONTENT, "collaborative")
TOLERANCE = 1e-6


def _rows(database: Path) -> list[dict]:
    with open_warehouse(database, read_only=True) as warehouse:
        return warehouse.query(
            "SELECT * EXCLUDE (run_id, computed_at, reason) FROM user_project_similarities "
            "ORDER BY user_login, rank"
        ).to_pylist()


def _cold_logins(database: Path) -> set[str]:
    with open_warehouse(database, read_only=True) as warehouse:
        users = warehouse.query(
            "SELECT user_login FROM user_embeddings WHERE interacted_projects = 0"
        ).to_pylist()
    return {row["user_login"] for row in users}


@pytest.fixture(scope="module")
def variants(pipeline_run, sample_slice: Path, tmp_path_factory: pytest.TempPathFactory):
    database, _, code, _, err = pipeline_run
    assert code == 0, err[-2000:]
    result = {}
    for name in CONTENT:
        copy = tmp_path_factory.mktemp(f"no-{name}") / "octorec.duckdb"
        shutil.copyfile(database, copy)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("OCTOREC_SOURCE", "snapshot")
            env.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
            env.setenv("OCTOREC_DATABASE", str(copy))
            env.setenv(f"RECOMMENDATION_CONTENT_WEIGHT_{name.upper()}", "0")
            job = defs().resolve_job_def("training_data_pipeline")
            with dg.DagsterInstance.ephemeral() as instance:
                assert job.execute_in_process(instance=instance).success
        result[name] = _rows(copy)
    return _rows(database), _cold_logins(database), result


def _same(mine: dict, theirs: dict, columns: tuple[str, ...]) -> None:
    for column in columns:
        assert mine[column] == pytest.approx(theirs[column], abs=TOLERANCE), (mine, column)


@pytest.mark.parametrize("zeroed", CONTENT)
def test_users_who_know_projects_keep_every_recommendation_and_value(variants, zeroed) -> None:
    baseline, cold, by_weight = variants
    known = [r for r in baseline if r["user_login"] not in cold]
    mine = [r for r in by_weight[zeroed] if r["user_login"] not in cold]
    assert known, "the slice has users who know projects"
    pairs = [(r["user_login"], r["project_full_name"], r["rank"]) for r in mine]
    assert pairs == [(r["user_login"], r["project_full_name"], r["rank"]) for r in known]
    main = ScoringWeights()
    for row, before in zip(mine, known, strict=True):
        # The semantic component included: it comes from the semantic tables, not the hybrid.
        _same(row, before, ("score", *(f"{n}_similarity" for n in COMPONENTS)))
        assert [row[f"{n}_weight"] for n in COMPONENTS] == [getattr(main, n) for n in COMPONENTS]
    if zeroed == "semantic":
        assert any(r["semantic_similarity"] > 0 for r in mine)
    # The user without any signal still gets the popular active projects.
    nothing = [r for r in by_weight[zeroed] if r["user_login"] == NO_SIGNAL_LOGIN]
    assert nothing == [r for r in baseline if r["user_login"] == NO_SIGNAL_LOGIN] != []


@pytest.mark.parametrize("zeroed", CONTENT)
def test_only_the_zeroed_component_leaves_the_cold_start_scores(variants, zeroed) -> None:
    baseline, cold, by_weight = variants
    assert COLD_START_LOGIN in cold
    content = ContentWeights()
    # A score is the weighted mean of its components: Σ w·c / Σ w over the weights it uses.
    total = sum(getattr(content, n) for n in CONTENT)
    kept = total - getattr(content, zeroed)
    before = {
        (r["user_login"], r["project_full_name"]): r for r in baseline if r["user_login"] in cold
    }
    mine = [r for r in by_weight[zeroed] if r["user_login"] == COLD_START_LOGIN]
    assert mine, "the cold-start user is recommended something"
    for row in mine:
        assert row[f"{zeroed}_weight"] == 0.0
        for name in CONTENT:
            if name != zeroed:
                assert row[f"{name}_weight"] == pytest.approx(getattr(content, name) / kept)
        expected = sum(getattr(content, n) * row[f"{n}_similarity"] for n in CONTENT if n != zeroed)
        assert row["score"] == pytest.approx(expected / kept, abs=TOLERANCE)
        was = before.get((row["user_login"], row["project_full_name"]))
        if was is not None:  # the same pair: every unweighted value as before, the sum less
            _same(row, was, tuple(f"{n}_similarity" for n in COMPONENTS))
            removed = getattr(content, zeroed) * was[f"{zeroed}_similarity"]
            assert row["score"] * kept == pytest.approx(
                was["score"] * total - removed, abs=TOLERANCE
            )

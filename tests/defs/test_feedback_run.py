"""The next pipeline run after feedback: likes are interactions, dismissals exclusions.

The session's real pipeline result is copied, feedback is written as the API writes it, and
the job runs again in process (dbt and the scoring for real)."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from octorec.definitions import defs
from octorec.feedback import FeedbackKind, record_feedback
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow

USER = "dkadev"


def _recommended(database: Path) -> list[str]:
    with open_warehouse(database, read_only=True) as warehouse:
        return [
            row["project_full_name"]
            for row in warehouse.query(
                "SELECT project_full_name FROM user_project_similarities "
                "WHERE user_login = ? ORDER BY rank",
                [USER],
            ).to_pylist()
        ]


def _user_row(database: Path) -> dict:
    with open_warehouse(database, read_only=True) as warehouse:
        [row] = warehouse.query(
            "SELECT d.known_projects, d.dismissed_projects, e.interacted_projects "
            "FROM dbt_user_embeddings_data AS d "
            "INNER JOIN user_embeddings AS e ON e.user_login = d.user_login "
            "WHERE d.user_login = ?",
            [USER],
        ).to_pylist()
    return row


@pytest.fixture(scope="module")
def rerun(pipeline_run, sample_slice: Path, tmp_path_factory: pytest.TempPathFactory):
    served, _, code, _, err = pipeline_run
    assert code == 0, err[-3000:]
    database = tmp_path_factory.mktemp("feedback-run") / "octorec.duckdb"
    shutil.copy(served, database)
    before, user_before = _recommended(database), _user_row(database)
    assert len(before) >= 2
    liked, dismissed = before[0], before[1]
    with open_warehouse(database) as warehouse:
        record_feedback(warehouse, USER.upper(), liked, FeedbackKind.LIKE)
        record_feedback(warehouse, USER, dismissed, FeedbackKind.DISMISS)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OCTOREC_SOURCE", "snapshot")
        env.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
        env.setenv("OCTOREC_DATABASE", str(database))
        job = defs().resolve_job_def("training_data_pipeline")
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(instance=instance)
    return database, result, before, user_before, liked, dismissed


def test_the_run_succeeds_and_rebuilds_the_user_models(rerun) -> None:
    _, result, *_ = rerun
    assert result.success
    rebuilt = {
        event.asset_key.to_user_string(): event.event_specific_data.materialization.metadata
        for event in result.all_events
        if event.event_type_value == "ASSET_MATERIALIZATION"
    }
    # The feedback table is a source of the user models: new feedback means new inputs.
    for model in ("dbt_user_embeddings_data", "dbt_user_project_similarities"):
        assert "unchanged_since_run" not in rebuilt[model], model
    assert "unchanged_since_run" in rebuilt["dbt_projects"]


def test_a_like_is_an_interaction_and_a_dismissal_an_exclusion(rerun) -> None:
    database, _, before, user_before, liked, dismissed = rerun
    user = _user_row(database)
    assert liked in user["known_projects"] and liked not in user_before["known_projects"]
    assert user["dismissed_projects"] == [dismissed]
    assert dismissed not in user["known_projects"]
    assert user["interacted_projects"] == user_before["interacted_projects"] + 1
    after = _recommended(database)
    assert liked not in after and dismissed not in after  # known now, and dismissed
    assert len(after) == len(before)  # others took their places

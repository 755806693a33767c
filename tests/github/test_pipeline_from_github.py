"""`OCTOREC_SOURCE=github`: the whole job runs from the GitHub stand-in's data."""

from pathlib import Path

import dagster as dg
import pytest

from octorec.definitions import defs
from octorec.testing.fake_github import FakeGitHub
from octorec.warehouse import open_warehouse
from tests.github.conftest import USERS, github_env, use_env

pytestmark = pytest.mark.slow


def test_the_job_runs_from_the_live_source(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "github.duckdb"
    env = github_env(
        fake_github,
        database,
        GITHUB_SEARCH_QUERIES="language:python stars:>30000",
        GITHUB_MAX_REPOSITORIES="120",
    )
    use_env(monkeypatch, env)
    job = defs().resolve_job_def("training_data_pipeline")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    with open_warehouse(database, read_only=True) as warehouse:
        users = (
            warehouse.query("SELECT DISTINCT user_login FROM user_project_similarities ORDER BY 1")
            .column(0)
            .to_pylist()
        )
        readmes = warehouse.query(
            "SELECT count(*) FROM raw.repositories WHERE readme_excerpt IS NOT NULL"
        ).to_pylist()[0]
    assert sorted(users) == sorted(USERS)
    assert next(iter(readmes.values())) > 100

    # The token reaches GitHub in the Authorization header and nowhere else.
    token = env["GITHUB_TOKEN"]
    assert fake_github.seen_authorization == {f"Bearer {token}"}
    assert token.encode() not in database.read_bytes()
    for event in result.all_events:
        assert token not in str(event)

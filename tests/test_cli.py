import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from octorec.cli import main
from octorec.constants import USER_PROJECT_SIMILARITIES
from octorec.warehouse import open_warehouse
from tests.conftest import ROOT


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch, database: Path) -> Path:
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    rows = [
        ("alice", "a/first", 1, 0.9, ["ai-ml"], ["Python"]),
        ("alice", "a/second", 2, 0.5, [], []),
        ("bob", "b/only", 1, 0.3, [], ["Go"]),
    ]
    table = pa.table(
        {
            "user_login": [r[0] for r in rows],
            "project_full_name": [r[1] for r in rows],
            "rank": pa.array([r[2] for r in rows], pa.int32()),
            "score": [r[3] for r in rows],
            "semantic_similarity": [0.5] * 3,
            "category_similarity": [0.4] * 3,
            "tech_stack_similarity": [0.3] * 3,
            "popularity_similarity": [0.2] * 3,
            "collaborative_similarity": [0.1] * 3,
            "matched_categories": [r[4] for r in rows],
            "matched_tech_stack": [r[5] for r in rows],
            "similar_known_project": ["x/liked", None, None],
            "reason": [
                "like x/liked, which you starred or own; matches ai-ml, Python",
                "popular",
                "-",
            ],
            "run_id": ["r"] * 3,
            "computed_at": [datetime.now(UTC)] * 3,
        }
    )
    with open_warehouse(database) as warehouse:
        warehouse.replace(USER_PROJECT_SIMILARITIES, table)
    return database


def test_recommend_prints_a_users_table(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "ALICE"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "alice:"  # the login as stored, whatever case was asked for
    assert "a/first" in lines[2] and "0.900" in lines[2] and "ai-ml, Python" in lines[2]
    assert "a/second" in lines[3]


def test_top_limits_the_rows(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recommend", "alice", "--top", "1"]) == 0
    assert "a/second" not in capsys.readouterr().out


def test_unknown_login_is_one_line_and_exit_1(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recommend", "nobody"]) == 1
    assert capsys.readouterr().err == "octorec: no recommendations stored for 'nobody'\n"


def test_sample_shows_several_users(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--users", "2"]) == 0
    out = capsys.readouterr().out
    assert "alice:" in out and "bob:" in out and "b/only" in out


def test_missing_database_says_to_run_the_pipeline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(tmp_path / "none.duckdb"))
    assert main(["recommend", "alice"]) == 1
    assert "run the pipeline first" in capsys.readouterr().err


def test_an_unknown_login_suggests_close_ones(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recommend", "alcie"]) == 1
    assert capsys.readouterr().err == (
        "octorec: no recommendations stored for 'alcie' (did you mean alice?)\n"
    )


def test_recommend_json_carries_every_component(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["recommend", "alice", "--json", "--top", "1"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["project_full_name"] == "a/first" and row["score"] == pytest.approx(0.9)
    assert row["collaborative_similarity"] == pytest.approx(0.1)
    assert row["matched_categories"] == ["ai-ml"]


def test_top_must_be_a_positive_number(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["recommend", "alice", "--top", "0"])
    assert exit_info.value.code == 2
    assert "expected a whole number of at least 1" in capsys.readouterr().err


# -- on the session's real pipeline result (`octorec run` on the sample slice) ----------------

JOB_ASSETS = {
    "github_data_ready",
    "github_scraping",
    "dbt_projects",
    "dbt_project_enriched_data",
    "dbt_user_embeddings_data",
    "project_semantic_embeddings",
    "project_hybrid_embeddings",
    "user_embeddings",
    "dbt_user_project_similarities",
    "recommendation_model",
    "user_project_similarities",
}


@pytest.fixture
def after_run(pipeline_run, monkeypatch: pytest.MonkeyPatch):
    database, home, code, out, err = pipeline_run
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return database, code, out, err


@pytest.mark.slow
def test_run_draws_a_bar_per_stage_and_summarises(after_run) -> None:
    database, code, out, err = after_run
    assert code == 0, err[-2000:]
    for stage, assets in (
        ("github_data", 2),
        ("ml_preparation", 3),
        ("ml_embeddings", 3),
        ("ml_similarities", 3),
    ):
        finished = [
            line
            for line in err.replace("\r", "\n").splitlines()
            if line.startswith(f"{stage:<16}: 100%")
        ]
        assert finished and f"| {assets}/{assets} [" in finished[-1], (stage, finished)
    lines = out.splitlines()
    assert lines[0].split() == ["asset", "group", "rows", "note"]
    assert {line.split()[0] for line in lines[1:-2]} == JOB_ASSETS
    log_file = Path(lines[-2].removeprefix("steps' output (dbt): "))
    assert "dbt build" in log_file.read_text() or "START sql table model" in log_file.read_text()
    assert lines[-1].startswith("run ") and "succeeded" in lines[-1]
    assert "11 assets materialised" in lines[-1]
    with open_warehouse(database, read_only=True) as warehouse:
        stored_rows = warehouse.count(USER_PROJECT_SIMILARITIES)
        projects = warehouse.count("project_semantic_embeddings")
        rejected = warehouse.count("raw.rejected_rows")
    by_asset = {line.split()[0]: line for line in lines[1:-2]}
    assert by_asset["user_project_similarities"].split()[2] == str(stored_rows)
    # A first run embeds every text (the cold-start user's profile is the one profile text)
    # and says how many source rows validation rejected.
    assert by_asset["project_semantic_embeddings"].endswith(
        f"embedded {projects}, reused 0 from the cache"
    )
    assert by_asset["user_embeddings"].endswith("embedded 1, reused 0 from the cache")
    assert by_asset["github_scraping"].endswith(f"{rejected} rows rejected")


def test_the_run_summary_notes_cached_texts_and_rejected_rows() -> None:
    from octorec.cli import _run_summary
    from octorec.pipeline_run import AssetOutcome, RunSummary

    summary = RunSummary(
        "run-1",
        True,
        12.5,
        Path("/instance"),
        Path("/instance/logs/run-1.log"),
        assets=[
            AssetOutcome("github_scraping", "github_data", rejected=3),
            AssetOutcome("dbt_projects", "ml_preparation", rows=10, unchanged=True),
            AssetOutcome("project_semantic_embeddings", "ml_embeddings", 10, embedded=4, reused=6),
        ],
    )
    lines = _run_summary(summary).splitlines()
    assert lines[1].split()[:3] == ["github_scraping", "github_data", "-"]
    assert lines[1].endswith("3 rows rejected (listed in raw.rejected_rows)")
    assert lines[2].endswith("  unchanged: not rebuilt")
    assert lines[3].endswith("embedded 4, reused 6 from the cache")
    assert lines[-1].startswith("run run-1 succeeded in 12.5 s: 3 assets materialised")


@pytest.mark.slow
def test_status_shows_each_assets_last_materialisation_and_rows(
    after_run, capsys: pytest.CaptureFixture[str]
) -> None:
    database, *_ = after_run
    assert main(["status"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_asset = {line.split()[0]: line for line in lines[1:] if line.strip()}
    assert set(by_asset) >= JOB_ASSETS
    with open_warehouse(database, read_only=True) as warehouse:
        projects = warehouse.count("dbt_projects")
        interactions = warehouse.count("raw.interactions")
    assert "never" not in "".join(by_asset[a] for a in JOB_ASSETS)
    assert by_asset["dbt_projects"].split()[-1] == str(projects)
    assert f"raw.interactions {interactions}" in by_asset["github_scraping"]


@pytest.mark.slow
def test_similar_lists_projects_by_embedding_cosine(
    after_run, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    database, *_ = after_run
    with open_warehouse(database, read_only=True) as warehouse:
        table = warehouse.query(
            "SELECT project_full_name, embedding FROM project_hybrid_embeddings"
        ).to_pylist()
    names = [row["project_full_name"] for row in table]
    vectors = np.asarray([row["embedding"] for row in table], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    me = names.index("dkadev/agent-dashboard")
    cosines = vectors @ vectors[me]
    cosines[me] = -np.inf
    expected = [names[i] for i in np.argsort(-cosines, kind="stable")[:3]]

    assert main(["similar", "DKADEV/agent-dashboard", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "projects like dkadev/agent-dashboard:"
    assert [line.split()[1] for line in lines[2:]] == expected


@pytest.mark.slow
def test_an_unknown_repository_is_one_line_with_close_matches(
    after_run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["similar", "dkadev/agent-dashbord"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "no embedding stored for 'dkadev/agent-dashbord'" in err
    assert "did you mean dkadev/agent-dashboard" in err


@pytest.mark.slow
def test_run_again_reuses_and_force_recomputes_everything(
    after_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, sample_slice: Path
) -> None:
    import shutil

    import dagster as dg

    database, *_ = after_run
    copy = tmp_path / "octorec.duckdb"
    shutil.copy(database, copy)  # the session's database stays as the run left it
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("OCTOREC_DATABASE", str(copy))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("OCTOREC_SOURCE", "snapshot")
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))

    def embedded() -> int:
        with dg.DagsterInstance.get() as instance:
            event = instance.get_latest_materialization_event(
                dg.AssetKey("project_semantic_embeddings")
            )
        assert event is not None and event.asset_materialization is not None
        return int(event.asset_materialization.metadata["embedded"].value)  # type: ignore[arg-type]

    def last_run_config() -> dict:
        with dg.DagsterInstance.get() as instance:
            [record] = instance.get_run_records(limit=1)
        return record.dagster_run.run_config

    with open_warehouse(copy, read_only=True) as warehouse:
        projects = warehouse.count("project_semantic_embeddings")
    assert main(["run"]) == 0
    again = capsys.readouterr().out
    assert again.count("unchanged: not rebuilt") == 5  # the four dbt models and the model
    assert f"embedded 0, reused {projects} from the cache" in again
    assert embedded() == 0
    assert "resources" not in last_run_config()
    assert main(["run", "--force"]) == 0
    forced = capsys.readouterr().out
    assert "unchanged" not in forced
    assert f"embedded {projects}, reused 0 from the cache" in forced
    assert embedded() == projects > 0
    # --force travels as the run's config, not through the environment.
    assert last_run_config()["resources"] == {"octorec": {"config": {"force": True}}}
    assert "OCTOREC_FORCE" not in os.environ


@pytest.mark.slow
def test_dagster_asset_materialize_takes_force_as_run_config(
    after_run, tmp_path: Path, sample_slice: Path
) -> None:
    """The README's way to recompute one asset from the Dagster command line."""
    import json
    import shutil
    import subprocess
    import sys

    import dagster as dg

    database, *_ = after_run
    copy = tmp_path / "octorec.duckdb"
    shutil.copy(database, copy)
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    kept = {
        k: v for k, v in os.environ.items() if k not in {"DAGSTER_MODULE_NAME", "OCTOREC_FORCE"}
    }
    env = {
        **kept,
        "DAGSTER_HOME": str(home),
        "OCTOREC_DATABASE": str(copy),
        "OCTOREC_SNAPSHOT_DIR": str(sample_slice),
    }
    config = {"resources": {"octorec": {"config": {"force": True}}}}
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [
            *(str(dagster), "asset", "materialize", "-m", "octorec.definitions"),
            *("--select", "project_semantic_embeddings", "--config-json", json.dumps(config)),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        event = instance.get_latest_materialization_event(
            dg.AssetKey("project_semantic_embeddings")
        )
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    with open_warehouse(copy, read_only=True) as warehouse:
        projects = warehouse.count("project_semantic_embeddings")
    assert metadata["embedded"].value == projects > 0  # the cache was ignored
    assert metadata["reused_from_cache"].value == 0


def test_recommend_needs_a_login_or_something_to_compute_from(
    stored: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recommend"]) == 1
    assert "recommend needs a LOGIN, or --starred" in capsys.readouterr().err
    assert main(["recommend", "alice", "--starred", "a/b"]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["recommend", "--starred", "a/b,not a name"]) == 1
    assert capsys.readouterr().err == (
        "octorec: --starred: expected a repository name 'owner/name', found 'not a name'\n"
    )


@pytest.mark.slow
def test_recommend_starred_computes_now_what_the_api_computes(
    pipeline_run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from fastapi.testclient import TestClient

    from octorec.serving.api import create_app
    from octorec.settings import load_settings

    database, _, code, _, err = pipeline_run
    assert code == 0, err[-2000:]
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    starred = ["vuejs/vue", "nobody/nothing-here", "FreeCodeCamp/FreeCodeCamp"]
    assert main(["recommend", "--starred", ",".join(starred), "--limit", "4", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["unknown_projects"] == ["nobody/nothing-here"]
    assert body["known_projects"] == ["freeCodeCamp/freeCodeCamp", "vuejs/vue"]
    assert len(body["recommendations"]) == 4
    with TestClient(create_app(load_settings(), refresh_seconds=0)) as client:
        api = client.post("/recommendations", json={"starred": starred, "limit": 4}).json()
    assert [(r["project_full_name"], r["score"]) for r in body["recommendations"]] == [
        (r["project"]["full_name"], r["score"]) for r in api["recommendations"]
    ]
    assert main(["recommend", "--starred", "vuejs/vue", "--top", "2"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("on request (1 known projects):") and len(table.splitlines()) == 4

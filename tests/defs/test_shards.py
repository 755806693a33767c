"""Scale-out: shards run by parallel Dagster runs give exactly the unpartitioned result."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

import octorec.defs.similarities as similarities
from octorec.definitions import defs
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow

SHARDS = 4
COLUMNS = (
    "user_login, rank, project_full_name, score, semantic_similarity, category_similarity, "
    "tech_stack_similarity, popularity_similarity, collaborative_similarity, matched_categories, "
    "matched_tech_stack, similar_known_project, reason, semantic_weight, category_weight, "
    "tech_stack_weight, popularity_weight, collaborative_weight"
)


def _rows(url: str) -> list[dict]:
    with open_warehouse(url, read_only=True) as warehouse:
        return warehouse.query(
            f"SELECT {COLUMNS} FROM user_project_similarities ORDER BY user_login, rank"
        ).to_pylist()


def _vectors(url: str, table: str, key: str) -> dict[str, list[float]]:
    with open_warehouse(url, read_only=True) as warehouse:
        rows = warehouse.query(f"SELECT {key} AS name, embedding FROM {table}").to_pylist()
    return {row["name"]: row["embedding"] for row in rows}


def _assert_same_rows(mine: list[dict], theirs: list[dict]) -> None:
    assert len(mine) == len(theirs)
    for got, want in zip(mine, theirs, strict=True):
        # The same pairs, ranks, labels and reasons; the numbers to float32 rounding (a shard's
        # matrix products run in blocks of another shape).
        assert got == {
            name: pytest.approx(value, abs=1e-6) if isinstance(value, float) else value
            for name, value in want.items()
        }


def _run_unpartitioned(snapshot: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The whole job in one run on `url` (no shards); its recommendation rows."""
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(snapshot))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("OCTOREC_SHARDS", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        whole = defs().resolve_job_def("training_data_pipeline")
        assert whole.execute_in_process(instance=instance).success
    return _rows(url)


def _dagster_home(directory: Path) -> Path:
    """An instance whose runs start at once, each in its own process (the default launcher)."""
    directory.mkdir()
    (directory / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n"
        "  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    return directory


def _overlapping(records: list) -> bool:  # type: ignore[type-arg]
    """Whether every run started before any of them ended (they ran side by side)."""
    return max(r.start_time for r in records) < min(r.end_time for r in records)


PIPELINE_ASSETS = (
    "github_data_ready",
    "github_scraping",
    "dbt_projects",
    "dbt_project_enriched_data",
    "project_semantic_embeddings",
    "project_hybrid_embeddings",
    "dbt_user_embeddings_data",
    "user_embeddings",
    "dbt_user_project_similarities",
    "user_project_similarities",
)
LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
  }
}
"""
BACKFILL_TIMEOUT_SECONDS = 900


def test_an_asset_backfill_of_every_shard_equals_one_run(
    sample_slice: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpartitioned = _run_unpartitioned(sample_slice, postgres_url, monkeypatch)
    projects = _vectors(postgres_url, "project_hybrid_embeddings", "project_full_name")
    users = _vectors(postgres_url, "user_embeddings", "user_login")
    assert unpartitioned and projects and users
    with open_warehouse(postgres_url) as warehouse:  # every sharded output computed again
        for table in (
            "project_semantic_embeddings",
            "project_hybrid_embeddings",
            "user_embeddings",
            "user_project_similarities",
        ):
            warehouse.execute(f"DELETE FROM {table}")

    # What "Materialize all" over every partition does in the UI: one asset backfill, which the
    # daemon runs phase by phase (unpartitioned assets once, each shard in its own run).
    home = _dagster_home(tmp_path / "dagster-home")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OCTOREC_SHARDS": str(SHARDS)}
    tools = Path(sys.executable).parent
    variables = {
        "params": {
            "assetSelection": [{"path": [k]} for k in PIPELINE_ASSETS],
            "allPartitions": True,
        }
    }
    launched = subprocess.run(
        [
            str(tools / "dagster-graphql"),
            "-m",
            "octorec.definitions",
            "-t",
            LAUNCH_BACKFILL,
            "-v",
            json.dumps(variables),
            "-o",
            str(tmp_path / "launched.json"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    answer = json.loads((tmp_path / "launched.json").read_text())["data"]
    answer = answer["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    log = tmp_path / "daemon.log"
    with log.open("w") as output:
        daemon = subprocess.Popen(
            [str(tools / "dagster-daemon"), "run", "-m", "octorec.definitions"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            status = _wait_for_backfill(home, answer["backfillId"], monkeypatch)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    assert status == "COMPLETED_SUCCESS", log.read_text()[-4000:]

    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records()
        by_partition: dict[str, list] = {}  # type: ignore[type-arg]
        for record in records:
            assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
            partition = record.dagster_run.tags.get("dagster/partition", "")
            by_partition.setdefault(partition, []).append(record)
    assert sorted(by_partition) == ["", *(str(shard) for shard in range(SHARDS))]
    # Each shard ran in runs of its own; the project shards' runs went side by side.
    project_runs = [
        r
        for r in records
        if "dagster/partition" in r.dagster_run.tags
        and "project_semantic_embeddings"
        in {k.to_user_string() for k in r.dagster_run.asset_selection or ()}
    ]
    assert len(project_runs) == SHARDS and _overlapping(project_runs)

    assert (
        _vectors(postgres_url, "project_hybrid_embeddings", "project_full_name").keys()
        == projects.keys()
    )
    for name, vector in _vectors(
        postgres_url, "project_hybrid_embeddings", "project_full_name"
    ).items():
        assert vector == pytest.approx(projects[name], abs=1e-6)
    again = _vectors(postgres_url, "user_embeddings", "user_login")
    assert again.keys() == users.keys()
    for login, vector in again.items():
        assert vector == pytest.approx(users[login], abs=1e-6)
    _assert_same_rows(_rows(postgres_url), unpartitioned)


def _wait_for_backfill(home: Path, backfill_id: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    with dg.DagsterInstance.get() as instance:
        while time.monotonic() < deadline:
            backfill = instance.get_backfill(backfill_id)
            assert backfill is not None
            if backfill.status.value not in ("REQUESTED", "CANCELING", "FAILING"):
                return str(backfill.status.value)
            time.sleep(2)
    return "TIMED OUT"


def test_a_backfill_of_every_user_shard_runs_in_parallel_and_equals_one_run(
    sample_slice: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unpartitioned = _run_unpartitioned(sample_slice, postgres_url, monkeypatch)
    assert unpartitioned

    # Dagster's own backfill: one run per shard, each launched at once in its own process
    # (the default run coordinator), all writing to the one PostgreSQL store.
    home = _dagster_home(tmp_path / "dagster-home")
    env = {**os.environ, "DAGSTER_HOME": str(home), "OCTOREC_SHARDS": str(SHARDS)}
    dagster = Path(sys.executable).parent / "dagster"
    backfill = subprocess.run(
        [
            str(dagster),
            "job",
            "backfill",
            "-m",
            "octorec.definitions",
            "-j",
            "score_user_shards",
            "--all",
            "--noprompt",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert backfill.returncode == 0, backfill.stderr[-3000:]

    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        records = instance.get_run_records()
        assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == [
            str(shard) for shard in range(SHARDS)
        ]
        assert all(r.dagster_run.status == dg.DagsterRunStatus.SUCCESS for r in records)
        # Side by side: every shard's run started before any of them ended.
        assert _overlapping(records)
        published = []
        for record in records:
            [event] = instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey("user_project_similarities"),
                    asset_partitions=[record.dagster_run.tags["dagster/partition"]],
                ),
                limit=1,
            ).records
            metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
            published.append(metadata["published"].value)
    assert published.count(True) == 1  # the last shard in swapped the table in

    sharded = _rows(postgres_url)
    assert len(sharded) == len(unpartitioned)
    for mine, theirs in zip(sharded, unpartitioned, strict=True):
        # The same pairs, ranks, labels and reasons; the numbers to float32 rounding (a shard's
        # matrix products run in blocks of another shape).
        assert mine == {
            name: pytest.approx(value, abs=1e-6) if isinstance(value, float) else value
            for name, value in theirs.items()
        }


def test_a_failed_shard_is_retried_alone_and_only_a_complete_set_is_published(
    pipeline_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "octorec.duckdb"
    shutil.copy(pipeline_run[0], database)  # the session's unpartitioned result
    before = _rows(str(database))
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    monkeypatch.setenv("OCTOREC_SHARDS", "2")
    job = defs().resolve_job_def("score_user_shards")
    real = similarities.score_shard_and_stage
    failures: list[int] = []

    def crashes_once(warehouse, settings, run_id, shard, shards):  # type: ignore[no-untyped-def]
        if shard == 1 and not failures:
            failures.append(shard)
            raise ConnectionError("worker lost (simulated)")
        return real(warehouse, settings, run_id, shard, shards)

    monkeypatch.setattr(similarities, "score_shard_and_stage", crashes_once)
    with dg.DagsterInstance.ephemeral() as instance:
        first = job.execute_in_process(instance=instance, partition_key="0")
        assert first.success
        assert _rows(str(database)) == before  # one shard of two: nothing published yet
        second = job.execute_in_process(instance=instance, partition_key="1")
    assert second.success and failures == [1]
    retried = [e for e in second.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert len(retried) == 1  # the shard's step ran again, alone, in the same run
    [outcome] = [
        e.event_specific_data.materialization.metadata
        for e in second.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    ]
    assert outcome["published"].value is True
    [check] = [
        e.event_specific_data
        for e in second.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert check.check_name == "all_shards_published" and check.passed
    [waiting] = [
        e.event_specific_data
        for e in first.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert not waiting.passed and waiting.metadata["shards_missing"].value == [1]
    after = _rows(str(database))
    assert [(r["user_login"], r["rank"], r["project_full_name"]) for r in after] == [
        (r["user_login"], r["rank"], r["project_full_name"]) for r in before
    ]

"""Scale-out: user shards scored by parallel Dagster runs equal the unpartitioned result."""

import os
import shutil
import subprocess
import sys
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


def test_a_backfill_of_every_user_shard_runs_in_parallel_and_equals_one_run(
    sample_slice: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.delenv("OCTOREC_SHARDS", raising=False)
    with dg.DagsterInstance.ephemeral() as instance:
        whole = defs().resolve_job_def("training_data_pipeline")
        assert whole.execute_in_process(instance=instance).success
    unpartitioned = _rows(postgres_url)
    assert unpartitioned

    # Dagster's own backfill: one run per shard, each launched at once in its own process
    # (the default run coordinator), all writing to the one PostgreSQL store.
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n"
        "  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
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
        assert max(r.start_time for r in records) < min(r.end_time for r in records)
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

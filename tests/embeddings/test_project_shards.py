"""A project shard embeds, and writes, only its own projects."""

import shutil
from pathlib import Path

import pytest

from octorec import constants as c
from octorec.embeddings.encoder import TextEncoder
from octorec.embeddings.projects import build_project_hybrids, embed_projects
from octorec.settings import load_settings
from octorec.sharding import shard_of
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow


def _runs(database: Path, table: str) -> dict[str, str]:
    with open_warehouse(database, read_only=True) as warehouse:
        rows = warehouse.query(f"SELECT project_full_name, run_id FROM {table}").to_pylist()
    return {row["project_full_name"]: row["run_id"] for row in rows}


def test_a_project_shard_embeds_and_replaces_only_its_own_projects(
    pipeline_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "octorec.duckdb"
    shutil.copy(pipeline_run[0], database)  # the session's unpartitioned result
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    settings = load_settings()
    before = _runs(database, c.PROJECT_SEMANTIC_EMBEDDINGS)
    mine = {name for name in before if shard_of(name, 3) == 1}
    assert 0 < len(mine) < len(before)

    with open_warehouse(database) as warehouse:
        summary = embed_projects(
            warehouse,
            TextEncoder.from_settings(settings),
            "shard-run",
            refresh=True,
            shard=1,
            shards=3,
        )
        hybrids = build_project_hybrids(warehouse, settings, "shard-run", shard=1, shards=3)

    # Embedded afresh (refresh), exactly the shard's projects: no other text went to the model.
    assert summary.projects == summary.embedded == len(mine) and hybrids.projects == len(mine)
    for table in (c.PROJECT_SEMANTIC_EMBEDDINGS, c.PROJECT_HYBRID_EMBEDDINGS):
        after = _runs(database, table)
        assert after.keys() == before.keys()
        assert {name for name, run in after.items() if run == "shard-run"} == mine

"""A user shard scored against the catalogue in chunks of projects gives the unchunked rows."""

import shutil
from pathlib import Path

import pytest

from octorec import constants as c
from octorec.scoring.chunked import score_in_project_chunks
from octorec.scoring.rows import recommendations_table
from octorec.settings import load_settings
from octorec.sharding import shard_of
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow

KEY = (
    "user_login",
    "rank",
    "project_full_name",
    "matched_categories",
    "matched_tech_stack",
    "similar_known_project",
)
NUMBERS = ("score", "semantic_similarity", "tech_stack_similarity", "collaborative_similarity")


@pytest.mark.parametrize("chunk_rows", [37, 100_000])
def test_scoring_a_shard_in_project_chunks_equals_scoring_everyone_at_once(
    pipeline_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    database = tmp_path / "octorec.duckdb"
    shutil.copy(pipeline_run[0], database)  # the session's unpartitioned result
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    monkeypatch.setenv("RECOMMENDATION_PROJECT_CHUNK_ROWS", str(chunk_rows))
    settings = load_settings()
    with open_warehouse(database, read_only=True) as warehouse:
        whole = warehouse.query(
            f"SELECT * FROM {c.USER_PROJECT_SIMILARITIES} ORDER BY user_login, rank"
        ).to_pylist()
        rows = []
        for shard in range(2):
            result = score_in_project_chunks(warehouse, settings, shard, 2)
            if chunk_rows < 100:
                assert result.chunks > 5  # several chunks really were scored apart
            table = recommendations_table(
                result.recommendations,
                result.users,
                result.projects,
                settings.weights,
                settings.content_weights,
                "chunked",
            )
            assert all(shard_of(u, 2) == shard for u in table.column("user_login").to_pylist())
            rows.extend(table.to_pylist())
    rows.sort(key=lambda row: (row["user_login"], row["rank"]))
    assert [tuple(r[k] for k in KEY) for r in rows] == [tuple(r[k] for k in KEY) for r in whole]
    assert [r["reason"] for r in rows] == [r["reason"] for r in whole]
    for mine, theirs in zip(rows, whole, strict=True):
        for name in NUMBERS:
            assert mine[name] == pytest.approx(theirs[name], abs=1e-6)

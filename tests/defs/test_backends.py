"""PostgreSQL is first-class: the same job on both backends gives the same recommendations."""

from pathlib import Path

import dagster as dg
import pytest

from octorec.definitions import defs
from octorec.warehouse import open_warehouse

pytestmark = pytest.mark.slow

COLUMNS = (
    "user_login, rank, project_full_name, score, semantic_similarity, category_similarity, "
    "tech_stack_similarity, popularity_similarity, matched_categories, matched_tech_stack"
)


def _run_and_read(location: str | Path) -> list[dict]:
    job = defs().resolve_job_def("training_data_pipeline")
    with dg.DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance).success
    with open_warehouse(location, read_only=True) as warehouse:
        return warehouse.query(
            f"SELECT {COLUMNS} FROM user_project_similarities ORDER BY user_login, rank"
        ).to_pylist()


def test_duckdb_and_postgresql_give_the_same_recommendations(
    sample_slice: Path, database: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOREC_SNAPSHOT_DIR", str(sample_slice))
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    on_duckdb = _run_and_read(database)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    on_postgres = _run_and_read(postgres_url)

    assert len(on_duckdb) == len(on_postgres) > 0
    for duck, pg in zip(on_duckdb, on_postgres, strict=True):
        assert (duck["user_login"], duck["rank"], duck["project_full_name"]) == (
            pg["user_login"],
            pg["rank"],
            pg["project_full_name"],
        )
        for column in ("score", "semantic_similarity", "category_similarity"):
            assert duck[column] == pytest.approx(pg[column], abs=1e-6)
        assert duck["matched_categories"] == pg["matched_categories"]
        assert duck["matched_tech_stack"] == pg["matched_tech_stack"]
    # Nothing was written to the DuckDB file by the PostgreSQL run.
    with open_warehouse(database, read_only=True) as warehouse:
        assert warehouse.count("user_project_similarities") == len(on_duckdb)

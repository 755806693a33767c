from pathlib import Path

import pyarrow as pa

from octorec import constants as c
from octorec.dbt_project import dbt_project, upstream_source_tables
from octorec.warehouse import open_warehouse
from octorec.warehouse.fingerprints import last_success, record_fingerprint, table_fingerprint


def _rows(names: list[str], stars: list[int], run_id: str) -> pa.Table:
    return pa.table({"name": names, "stars": stars, "run_id": [run_id] * len(names)})


def test_the_fingerprint_follows_content_not_order_or_bookkeeping(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb") as warehouse:
        warehouse.execute("CREATE TABLE t (name VARCHAR, stars INTEGER, run_id VARCHAR)")
        warehouse.replace("t", _rows(["a", "b"], [1, 2], "run-1"))
        first = table_fingerprint(warehouse, "t")
        warehouse.replace("t", _rows(["b", "a"], [2, 1], "run-2"))
        reordered = table_fingerprint(warehouse, "t")
        warehouse.replace("t", _rows(["a", "b"], [1, 3], "run-2"))
        changed = table_fingerprint(warehouse, "t")
    assert first == reordered
    assert changed != first


def test_a_step_remembers_what_it_last_succeeded_on(tmp_path: Path) -> None:
    with open_warehouse(tmp_path / "w.duckdb") as warehouse:
        assert last_success(warehouse, "dbt build x") is None
        record_fingerprint(warehouse, "dbt build x", "abc", "run-1")
        record_fingerprint(warehouse, "dbt build x", "def", "run-2")
        record = last_success(warehouse, "dbt build x")
        assert warehouse.count(c.PIPELINE_STEPS) == 1
    assert record is not None and (record.fingerprint, record.run_id) == ("def", "run-2")


def test_each_dbt_model_depends_on_exactly_the_sources_it_reads() -> None:
    manifest = Path(dbt_project().manifest_path)
    assert upstream_source_tables(manifest, ["dbt_projects"]) == ["raw.repositories"]
    assert upstream_source_tables(manifest, ["dbt_project_enriched_data"]) == ["raw.repositories"]
    assert upstream_source_tables(manifest, ["dbt_user_project_similarities"]) == [
        "project_hybrid_embeddings",
        "raw.feedback",
        "raw.interactions",
        "raw.users",
        "user_embeddings",
    ]

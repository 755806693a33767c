"""Behaviour both backends share, run against DuckDB and a real PostgreSQL server."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from octorec.warehouse import WarehouseError, matrix_from_arrow, open_warehouse, vectors_to_arrow


@pytest.fixture(params=["duckdb", "postgres"])
def location(request: pytest.FixtureRequest, database: Path) -> str | Path:
    if request.param == "duckdb":
        return database
    return request.getfixturevalue("postgres_url")


def test_vectors_round_trip_through_a_table(location: str | Path) -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3) / 7
    with open_warehouse(location) as warehouse:
        warehouse.execute(
            warehouse.render_type_names("CREATE TABLE v (id INTEGER, embedding FLOAT[])")
        )
        rows = pa.table({"id": [0, 1, 2, 3], "embedding": vectors_to_arrow(matrix)})
        warehouse.replace("v", rows)
        stored = warehouse.query("SELECT embedding FROM v ORDER BY id")
    np.testing.assert_array_equal(matrix_from_arrow(stored.column("embedding"), 3), matrix)


def test_vectors_of_the_wrong_size_are_refused() -> None:
    column = pa.array([[1.0, 2.0], [1.0, 2.0, 3.0]], pa.list_(pa.float32()))
    with pytest.raises(ValueError, match=r"stored vectors have \[3\] values, expected 2"):
        matrix_from_arrow(column, 2)


def test_upsert_replaces_rows_with_the_same_key(location: str | Path) -> None:
    with open_warehouse(location) as warehouse:
        warehouse.execute(
            warehouse.render_type_names("CREATE TABLE t (k VARCHAR PRIMARY KEY, v INTEGER)")
        )
        warehouse.upsert("t", pa.table({"k": ["a", "b"], "v": [1, 2]}), ["k"])
        warehouse.upsert("t", pa.table({"k": ["b", "c"], "v": [20, 3]}), ["k"])
        rows = warehouse.query("SELECT k, v FROM t ORDER BY k").to_pylist()
    assert rows == [{"k": "a", "v": 1}, {"k": "b", "v": 20}, {"k": "c", "v": 3}]


def test_a_failed_replace_leaves_the_previous_rows(location: str | Path) -> None:
    with open_warehouse(location) as warehouse:
        warehouse.execute(
            warehouse.render_type_names("CREATE TABLE t (k VARCHAR NOT NULL, v INTEGER)")
        )
        warehouse.replace("t", pa.table({"k": ["a", "b"], "v": [1, 2]}))
        with pytest.raises(Exception, match=r"(?i)not.null"):
            warehouse.replace("t", pa.table({"k": ["c", None], "v": [3, 4]}))
        assert warehouse.query("SELECT k FROM t ORDER BY k").column("k").to_pylist() == [
            "a",
            "b",
        ]


def test_a_duckdb_reader_never_sees_a_half_replaced_table(database: Path) -> None:
    with open_warehouse(database) as warehouse:
        warehouse.execute("CREATE TABLE t (k INTEGER)")
        warehouse.replace("t", pa.table({"k": list(range(100))}))
        reader = warehouse.connection.cursor()
        reader.execute("BEGIN TRANSACTION")
        with warehouse.transaction():
            warehouse.connection.execute("DELETE FROM t")
            # Mid-transaction, another connection still sees every old row.
            assert reader.execute("SELECT count(*) FROM t").fetchone() == (100,)
            warehouse.connection.execute("INSERT INTO t SELECT range FROM range(5)")
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (5,)


def test_unsafe_table_names_are_refused(location: str | Path) -> None:
    with open_warehouse(location) as warehouse, pytest.raises(WarehouseError, match="refusing"):
        warehouse.count("t; DROP TABLE x")


def test_reading_a_missing_database_says_what_to_do(tmp_path: Path) -> None:
    with (
        pytest.raises(WarehouseError, match="run the pipeline first"),
        open_warehouse(tmp_path / "none.duckdb", read_only=True),
    ):
        pass


def test_reading_a_table_no_asset_has_written_yet_says_so(location: str | Path) -> None:
    with (
        open_warehouse(location) as warehouse,
        pytest.raises(
            WarehouseError,
            match=r"dbt_user_embeddings_data\"? does not exist.*materialise the upstream",
        ),
    ):
        warehouse.query("SELECT * FROM dbt_user_embeddings_data")

"""Shard by shard into a staging table; the table itself changes only when every shard is in."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from octorec.constants import PROJECT_SEMANTIC_EMBEDDINGS, USER_PROJECT_SIMILARITIES
from octorec.sharding import shard_of
from octorec.warehouse import open_warehouse, vectors_to_arrow
from octorec.warehouse.sharded import stage_shard


def _rows(logins: list[str], run: str) -> pa.Table:
    if not logins:
        return _rows(["nobody"], run).slice(0, 0)  # no rows, every column
    return pa.Table.from_pylist(
        [
            {
                "user_login": login,
                "project_full_name": f"p/{login}",
                "rank": 1,
                "score": 0.5,
                "semantic_similarity": 0.1,
                "category_similarity": 0.2,
                "tech_stack_similarity": 0.3,
                "popularity_similarity": 0.4,
                "collaborative_similarity": 0.5,
                "matched_categories": [],
                "matched_tech_stack": [],
                "similar_known_project": None,
                "reason": "r",
                "run_id": run,
                "computed_at": datetime(2026, 11, 1, tzinfo=UTC),
            }
            for login in logins
        ]
    )


@pytest.fixture(params=["duckdb", "postgresql"])
def location(request: pytest.FixtureRequest, database: Path) -> str | Path:
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else database


def _logins(location: str | Path) -> list[str]:
    with open_warehouse(location, read_only=True) as warehouse:
        rows = warehouse.query(f"SELECT user_login FROM {USER_PROJECT_SIMILARITIES}")
    return sorted(rows.column(0).to_pylist())


def _stage(location: str | Path, shard: int, logins: list[str], generation: str = "g1"):  # type: ignore[no-untyped-def]
    with open_warehouse(location) as warehouse:
        return stage_shard(
            warehouse,
            USER_PROJECT_SIMILARITIES,
            _rows(logins, f"run-{shard}"),
            shard=shard,
            shards=3,
            generation=generation,
            run_id=f"run-{shard}",
        )


def test_the_table_is_replaced_only_when_every_shard_is_in(location: str | Path) -> None:
    with open_warehouse(location) as warehouse:
        warehouse.replace(USER_PROJECT_SIMILARITIES, _rows(["old"], "before"))
    first = _stage(location, 0, ["a", "b"])
    second = _stage(location, 2, [])  # a shard whose users got nothing (or none) still counts
    assert (first.published, second.published, second.shards_done) == (False, False, 2)
    assert _logins(location) == ["old"]  # readers still see the previous complete result
    last = _stage(location, 1, ["c"])
    assert last.published and last.shards_done == 3 and last.staged_rows == 1
    assert _logins(location) == ["a", "b", "c"]


def test_a_repeated_shard_replaces_its_own_rows(location: str | Path) -> None:
    _stage(location, 0, ["a", "b"])
    _stage(location, 1, ["c"])
    _stage(location, 0, ["a"])  # retried: its earlier rows are gone, not doubled
    assert _stage(location, 2, ["d"]).published
    assert _logins(location) == ["a", "c", "d"]


def test_shards_of_another_generation_are_never_mixed(location: str | Path) -> None:
    _stage(location, 0, ["a"], generation="old-inputs")
    _stage(location, 1, ["b"], generation="new-inputs")
    outcome = _stage(location, 2, ["c"], generation="new-inputs")
    assert not outcome.published and outcome.shards_done == 2
    assert _stage(location, 0, ["a2"], generation="new-inputs").published
    assert _logins(location) == ["a2", "b", "c"]


def test_shards_beyond_the_count_are_dropped_when_a_smaller_set_publishes(
    location: str | Path,
) -> None:
    with open_warehouse(location) as warehouse:
        stage_shard(
            warehouse,
            USER_PROJECT_SIMILARITIES,
            _rows(["ghost"], "old"),
            shard=4,
            shards=5,
            generation="g1",
            run_id="old",
        )
    for shard, logins in enumerate([["a"], ["b"], ["c"]]):
        outcome = _stage(location, shard, logins)
    assert outcome.published and outcome.missing == ()
    assert _logins(location) == ["a", "b", "c"]  # shard 4 of 5 is not part of 3 shards
    with open_warehouse(location, read_only=True) as warehouse:
        staged = warehouse.query("SELECT DISTINCT shard FROM user_project_similarities_shards")
        recorded = warehouse.query("SELECT DISTINCT shard FROM shard_steps")
    assert sorted(staged.column(0).to_pylist()) == [0, 1, 2]
    assert sorted(recorded.column(0).to_pylist()) == [0, 1, 2]


def test_an_unfinished_generation_names_the_missing_shards(location: str | Path) -> None:
    assert _stage(location, 1, ["b"]).missing == (0, 2)


def test_the_warehouse_computes_the_same_shards_as_python(location: str | Path) -> None:
    names = [f"Owner-{i}/Repo_{i * 7}" for i in range(300)] + ["torvalds/linux", "ALICE"]
    with (
        open_warehouse(location) as warehouse,
        warehouse.staged("_names", pa.table({"name": names})),
    ):
        for shard in range(3):
            condition, params = warehouse.shard_condition("name", shard, 3)
            found = warehouse.query(f"SELECT name FROM _names WHERE {condition}", params)
            assert sorted(found.column(0).to_pylist()) == sorted(
                n for n in names if shard_of(n, 3) == shard
            )


def _embeddings(names: list[str], run: str) -> pa.Table:
    return pa.table(
        {
            "project_full_name": names,
            "content_hash": [f"h-{n}" for n in names],
            "model": ["m"] * len(names),
            "embedding": vectors_to_arrow(np.ones((len(names), 384), dtype=np.float32)),
            "run_id": [run] * len(names),
            "computed_at": [datetime(2026, 11, 1, tzinfo=UTC)] * len(names),
        }
    )


def test_replacing_a_shard_touches_only_that_shards_rows(location: str | Path) -> None:
    names = [f"o/r{i}" for i in range(40)]
    shard_zero = [n for n in names if shard_of(n, 2) == 0]
    with open_warehouse(location) as warehouse:
        warehouse.replace(PROJECT_SEMANTIC_EMBEDDINGS, _embeddings(names, "before"))
        # Shard 0 now holds one project fewer (it left the catalogue) and is recomputed.
        warehouse.replace_shard(
            PROJECT_SEMANTIC_EMBEDDINGS,
            _embeddings(shard_zero[1:], "after"),
            "project_full_name",
            shard=0,
            shards=2,
        )
        rows = warehouse.query(
            f"SELECT project_full_name, run_id FROM {PROJECT_SEMANTIC_EMBEDDINGS}"
        ).to_pylist()
    runs = {row["project_full_name"]: row["run_id"] for row in rows}
    assert shard_zero[0] not in runs
    assert {n for n, run in runs.items() if run == "after"} == set(shard_zero[1:])
    assert {n for n, run in runs.items() if run == "before"} == {
        n for n in names if shard_of(n, 2) == 1
    }

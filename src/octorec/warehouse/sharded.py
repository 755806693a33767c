"""Tables written shard by shard, swapped in whole when every shard of one generation is done.

A partitioned asset's partition stages its rows in `<table>_shards` (replacing whatever that
shard staged before, so a retried or repeated shard is idempotent) and records the shard as
done for a *generation*: a fingerprint of what all shards are computed from. Once every shard
of a generation is recorded, the table is replaced by that generation's staged rows in one
transaction; until then readers keep seeing the previous complete result, never a mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from octorec import constants as c
from octorec.warehouse.base import Warehouse, checked


@dataclass(frozen=True)
class ShardOutcome:
    """What staging one shard led to."""

    staged_rows: int
    shards_done: int
    """Shards of this generation recorded so far (this one included)."""
    published: bool
    """Whether this shard was the last one and the table now holds the generation's rows."""
    missing: tuple[int, ...] = ()
    """Shards of this generation not recorded yet (empty once published)."""


def staged_table(table: str) -> str:
    """Where the shards of `table` are staged."""
    return checked(f"{table}{c.STAGED_SUFFIX}")


def stage_shard(
    warehouse: Warehouse,
    table: str,
    rows: pa.Table,
    *,
    shard: int,
    shards: int,
    generation: str,
    run_id: str,
) -> ShardOutcome:
    """Stage one shard's rows and publish the table if every shard of `generation` is done."""
    staging = staged_table(table)
    tagged = rows.append_column("shard", pa.array([shard] * rows.num_rows, pa.int32()))
    tagged = tagged.append_column("generation", pa.array([generation] * rows.num_rows))
    columns = ", ".join(checked(name) for name in tagged.column_names)
    record = pa.table(
        {
            "staged_table": [staging],
            "generation": [generation],
            "shards": pa.array([shards], pa.int32()),
            "shard": pa.array([shard], pa.int32()),
            "rows_staged": pa.array([rows.num_rows], pa.int64()),
            "run_id": [run_id],
            "recorded_at": [datetime.now(UTC)],
        }
    )
    with warehouse.transaction():
        # A shard's own rows never touch another's, so they are written before the lock; the
        # count and the publishing are serialised: shards finishing together publish once.
        warehouse.execute(f"DELETE FROM {staging} WHERE shard = ?", [shard])
        with warehouse.staged("_octorec_shard", tagged, like=staging):
            warehouse.execute(
                f"INSERT INTO {staging} ({columns}) SELECT {columns} FROM _octorec_shard"
            )
        warehouse.lock_for_write(table)
        warehouse.upsert(c.SHARD_STEPS, record, ["staged_table", "shard"])
        done = {
            int(value)
            for value in warehouse.query(
                f"SELECT shard FROM {c.SHARD_STEPS} "
                "WHERE staged_table = ? AND generation = ? AND shards = ? AND shard < ?",
                [staging, generation, shards, shards],
            )
            .column("shard")
            .to_pylist()
        }
        published = len(done) == shards
        if published:
            names = ", ".join(checked(name) for name in rows.column_names)
            warehouse.execute(f"DELETE FROM {checked(table)}")
            warehouse.execute(
                f"INSERT INTO {checked(table)} ({names}) SELECT {names} FROM {staging} "
                "WHERE generation = ? AND shard < ?",
                [generation, shards],
            )
            # Shards beyond the count (left by a run with more shards) can never publish again.
            warehouse.execute(f"DELETE FROM {staging} WHERE shard >= ?", [shards])
            warehouse.execute(
                f"DELETE FROM {c.SHARD_STEPS} WHERE staged_table = ? AND shard >= ?",
                [staging, shards],
            )
    missing = tuple(sorted(set(range(shards)) - done))
    return ShardOutcome(
        staged_rows=rows.num_rows, shards_done=len(done), published=published, missing=missing
    )

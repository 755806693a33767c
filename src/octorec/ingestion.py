"""Storing what a source produced in the raw tables: upserts on natural keys, nothing lost.

A live source is incremental: what a batch does not mention stays. A snapshot is the whole
truth (`SourceData.complete`): its load also deletes the rows it no longer holds, reports how
many, and refuses to empty a table that holds rows unless `OCTOREC_ALLOW_EMPTY_SNAPSHOT` is set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from octorec import constants as c
from octorec.sources.base import (
    GitHubSource,
    RejectedRow,
    RepositoryRecord,
    SourceData,
    SourceUnavailableError,
)
from octorec.warehouse import Warehouse
from octorec.warehouse.renames import move_renamed
from octorec.warehouse.scrape_state import HTTP_CACHE, cache_rows

logger = logging.getLogger(__name__)

_SNAPSHOT_TABLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (c.RAW_REPOSITORIES, "repositories", ("full_name",)),
    (c.RAW_USERS, "users", ("login",)),
    (c.RAW_INTERACTIONS, "interactions", ("user_login", "repo_full_name", "kind")),
)
"""Raw tables a snapshot replaces: name, the `SourceData` attribute and the natural key."""


class SnapshotRefusedError(SourceUnavailableError):
    """Loading the snapshot would empty a raw table that holds rows, and that was not asked for."""


@dataclass
class IngestionSummary:
    """Counts of one load, for logs and run metadata."""

    repositories: int
    users: int
    interactions: int
    rejected_rows: int
    raw_repositories_total: int
    raw_users_total: int
    raw_interactions_total: int
    removed: dict[str, int] = field(default_factory=dict)
    """Rows deleted per raw table because a complete snapshot no longer holds them."""


def _payload(value: dict[str, Any]) -> str | None:
    if not value:
        return None
    text = json.dumps(value, sort_keys=True, default=str)
    if "\\u0000" in text:  # a NUL somewhere (or an escaped backslash before 'u0000': rare)
        text = json.dumps(_without_nul(value), sort_keys=True, default=str)
    return text


def _without_nul(value: Any) -> Any:
    """`value` with NUL characters removed from its text, however deeply nested."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def without_nul(table: pa.Table, what: str) -> pa.Table:
    """`table` with NUL characters removed from its text and text-list columns.

    PostgreSQL refuses NUL in text where DuckDB stores it: removing it keeps the two backends'
    rows the same. The snapshot source already removed (and reported) the NULs of its files;
    this covers every other source, counting the rows it changed in a warning.
    """
    changed = np.zeros(table.num_rows, dtype=bool)
    columns = []
    for column_field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_string(column_field.type):
            found = pc.fill_null(pc.match_substring(column, "\x00"), False)
            if pc.any(found).as_py():
                changed |= found.to_numpy(zero_copy_only=False)
                column = pc.replace_substring(column, "\x00", "")
        elif pa.types.is_list(column_field.type) and pa.types.is_string(
            column_field.type.value_type
        ):
            lists = column.combine_chunks()
            values = pc.list_flatten(lists)
            found = pc.fill_null(pc.match_substring(values, "\x00"), False)
            if pc.any(found).as_py():
                parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
                changed[parents[found.to_numpy(zero_copy_only=False)]] = True
                column = pa.ListArray.from_arrays(
                    pc.subtract(lists.offsets, lists.offsets[0]),
                    pc.replace_substring(values, "\x00", ""),
                    mask=lists.is_null() if lists.null_count else None,
                )
        columns.append(column)
    if changed.any():
        logger.warning(
            "removed NUL bytes from %d %s (PostgreSQL cannot store them)", changed.sum(), what
        )
    return pa.Table.from_arrays(columns, schema=table.schema)


def records_table(records: list[Any], ingested_at: datetime) -> pa.Table:
    """Source records as raw-table rows stamped with `ingested_at`, without NUL characters."""
    rows = []
    names: dict[type, tuple[str, ...]] = {}
    for record in records:
        # The records are flat: a shallow copy of the fields (`asdict` deep-copies every value,
        # a third of the snapshot step's time on the sample).
        kind = type(record)
        if kind not in names:
            names[kind] = tuple(item.name for item in fields(record))
        row = {name: getattr(record, name) for name in names[kind]}
        for key, value in row.items():
            if isinstance(value, tuple):
                row[key] = list(value)
            elif isinstance(value, dict):
                row[key] = _payload(value)
        row["ingested_at"] = ingested_at
        rows.append(row)
    return without_nul(pa.Table.from_pylist(rows), "records")


def _refuse_emptying(warehouse: Warehouse, data: SourceData) -> None:
    """Stop a complete snapshot that would empty a raw table holding rows, unless allowed."""
    complete = data.complete
    if complete is None or complete.allow_empty:
        return
    emptied = []
    for table, attribute, _ in _SNAPSHOT_TABLES:
        if getattr(data, attribute):
            continue
        held = warehouse.count(f"{c.RAW_SCHEMA}.{table}")
        if held:
            source = complete.files.get(table, "the snapshot")
            emptied.append(f"{c.RAW_SCHEMA}.{table} ({held:,} rows; {source} has none)")
    if emptied:
        raise SnapshotRefusedError(
            f"refusing a snapshot that would empty {', '.join(emptied)}: fix the snapshot, or "
            "set OCTOREC_ALLOW_EMPTY_SNAPSHOT=1 to empty them on purpose"
        )


def _remove_what_left(warehouse: Warehouse, data: SourceData) -> dict[str, int]:
    """Delete the raw rows whose key the complete snapshot no longer holds; counts per table.

    Keys are compared exactly: a name whose letter case changed in the file is a new row, and
    the old spelling leaves.
    """
    removed: dict[str, int] = {}
    for table, attribute, key in _SNAPSHOT_TABLES:
        name = f"{c.RAW_SCHEMA}.{table}"
        records = getattr(data, attribute)
        kept = pa.table(
            {
                column: pa.array([getattr(record, column) for record in records], pa.string())
                for column in key
            }
        )
        before = warehouse.count(name)
        match = " AND ".join(f"k.{column} = t.{column}" for column in key)
        with warehouse.staged("_octorec_kept", kept, like=name):
            warehouse.execute(
                f"DELETE FROM {name} AS t "
                f"WHERE NOT EXISTS (SELECT 1 FROM _octorec_kept AS k WHERE {match})"
            )
        removed[table] = before - warehouse.count(name)
    return removed


def _mark_unavailable(warehouse: Warehouse, gone: list[RepositoryRecord], now: datetime) -> None:
    """Keep what is known of repositories GitHub no longer serves; only flag them."""
    names = [r.full_name.lower() for r in gone]
    placeholders = ", ".join("?" for _ in names)
    table = f"{c.RAW_SCHEMA}.{c.RAW_REPOSITORIES}"
    warehouse.execute(
        f"UPDATE {table} SET is_available = false, ingested_at = ? "
        f"WHERE is_available AND lower(full_name) IN ({placeholders})",
        [now, *names],
    )
    stored = set(
        warehouse.query(
            f"SELECT lower(full_name) AS n FROM {table} WHERE lower(full_name) IN ({placeholders})",
            names,
        )
        .column("n")
        .to_pylist()
    )
    new = [r for r in gone if r.full_name.lower() not in stored]
    if new:
        warehouse.upsert(table, records_table(new, now), ["full_name"])


def store_source_data(warehouse: Warehouse, data: SourceData) -> IngestionSummary:
    """Upsert repositories, users and interactions, and record the rejected rows.

    The three raw tables and the rejection log are written in one transaction: a failure leaves
    the warehouse as it was. Re-running with the same data changes nothing but `ingested_at`.
    A complete snapshot also deletes the rows it no longer holds (counted in `removed`).

    Raises:
        SnapshotRefusedError: a complete snapshot would empty a raw table that holds rows.
    """
    now = datetime.now(UTC)
    raw = c.RAW_SCHEMA
    available = [r for r in data.repositories if r.is_available]
    gone = [r for r in data.repositories if not r.is_available]
    removed: dict[str, int] = {}
    with warehouse.transaction():
        if data.complete is not None:
            _refuse_emptying(warehouse, data)
            removed = _remove_what_left(warehouse, data)
        warehouse.upsert(
            f"{raw}.{c.RAW_REPOSITORIES}", records_table(available, now), ["full_name"]
        )
        if gone:
            _mark_unavailable(warehouse, gone, now)
        warehouse.upsert(f"{raw}.{c.RAW_USERS}", records_table(data.users, now), ["login"])
        if data.replaces_interactions_of:
            # A live source returns a user's complete star list: what is gone was unstarred.
            logins = data.replaces_interactions_of
            warehouse.execute(
                f"DELETE FROM {raw}.{c.RAW_INTERACTIONS} WHERE user_login IN "
                f"({', '.join('?' for _ in logins)})",
                logins,
            )
        warehouse.upsert(
            f"{raw}.{c.RAW_INTERACTIONS}",
            records_table(data.interactions, now),
            ["user_login", "repo_full_name", "kind"],
        )
        # A rename (same GitHub id, another name) moves the old name's rows to the new one.
        move_renamed(warehouse, available)
        # The cached answers this batch came from commit with it, never before it.
        if data.http_cache:
            warehouse.upsert(HTTP_CACHE, cache_rows(data.http_cache, now), ["request"])
        files = sorted(
            {row.source_file for row in data.rejected}
            | {path.rsplit("/", 1)[-1] for path in data.files_read}
        )
        if files:
            warehouse.execute(
                f"DELETE FROM {raw}.{c.RAW_REJECTED_ROWS} WHERE source_file IN "
                f"({', '.join('?' for _ in files)})",
                files,
            )
        if data.rejected:
            rejected = without_nul(
                pa.Table.from_pylist(
                    [{**asdict(row), "rejected_at": now} for row in data.rejected]
                ),
                "rejected rows",
            )
            warehouse.upsert(
                f"{raw}.{c.RAW_REJECTED_ROWS}", rejected, ["source_file", "line_number"]
            )
    summary = IngestionSummary(
        repositories=len(data.repositories),
        users=len(data.users),
        interactions=len(data.interactions),
        rejected_rows=len(data.rejected),
        raw_repositories_total=warehouse.count(f"{raw}.{c.RAW_REPOSITORIES}"),
        raw_users_total=warehouse.count(f"{raw}.{c.RAW_USERS}"),
        raw_interactions_total=warehouse.count(f"{raw}.{c.RAW_INTERACTIONS}"),
        removed=removed,
    )
    logger.info("stored raw data: %s", summary)
    return summary


@dataclass
class IngestionRun:
    """What a whole scrape stored, batch after batch."""

    repositories: int = 0
    users: int = 0
    interactions: int = 0
    batches: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)
    """Rows deleted per raw table because the snapshot no longer holds them."""


def ingest(source: GitHubSource, warehouse: Warehouse) -> IngestionRun:
    """Store every batch the source yields, each in its own transaction, as it arrives.

    A failure part-way keeps the batches committed before it; the next run resumes from there.
    """
    run = IngestionRun()
    try:
        for batch in source.batches():
            summary = store_source_data(warehouse, batch)
            run.batches += 1
            run.repositories += summary.repositories
            run.users += summary.users
            run.interactions += summary.interactions
            run.rejected += batch.rejected
            run.warnings += batch.warnings
            for table, count in summary.removed.items():
                run.removed[table] = run.removed.get(table, 0) + count
    finally:
        source.close()
    return run

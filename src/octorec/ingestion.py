"""Storing what a source produced in the raw tables: upserts on natural keys, nothing lost."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from octorec import constants as c
from octorec.sources.base import GitHubSource, RejectedRow, RepositoryRecord, SourceData
from octorec.warehouse import Warehouse
from octorec.warehouse.renames import move_renamed
from octorec.warehouse.scrape_state import HTTP_CACHE, cache_rows

logger = logging.getLogger(__name__)


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


def _payload(value: dict[str, Any]) -> str | None:
    return json.dumps(value, sort_keys=True, default=str) if value else None


def records_table(records: list[Any], ingested_at: datetime) -> pa.Table:
    """Source records as raw-table rows stamped with `ingested_at`."""
    rows = []
    for record in records:
        row = asdict(record)
        for key, value in row.items():
            if isinstance(value, tuple):
                row[key] = list(value)
            elif isinstance(value, dict):
                row[key] = _payload(value)
        row["ingested_at"] = ingested_at
        rows.append(row)
    return pa.Table.from_pylist(rows)


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
    """
    now = datetime.now(UTC)
    raw = c.RAW_SCHEMA
    available = [r for r in data.repositories if r.is_available]
    gone = [r for r in data.repositories if not r.is_available]
    with warehouse.transaction():
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
            rejected = pa.Table.from_pylist(
                [{**asdict(row), "rejected_at": now} for row in data.rejected]
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
    finally:
        source.close()
    return run

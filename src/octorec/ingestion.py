"""Storing what a source produced in the raw tables: upserts on natural keys, nothing lost."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from octorec import constants as c
from octorec.sources.base import SourceData
from octorec.warehouse import DuckDBWarehouse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
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


def _table(records: list[Any], ingested_at: datetime) -> pa.Table:
    rows = []
    for record in records:
        row = asdict(record)
        for key, value in row.items():
            if isinstance(value, tuple):
                row[key] = list(value)
        if "payload" in row:
            row["payload"] = _payload(row["payload"])
        row["ingested_at"] = ingested_at
        rows.append(row)
    return pa.Table.from_pylist(rows)


def store_source_data(warehouse: DuckDBWarehouse, data: SourceData) -> IngestionSummary:
    """Upsert repositories, users and interactions, and record the rejected rows.

    The three raw tables and the rejection log are written in one transaction: a failure leaves
    the warehouse as it was. Re-running with the same data changes nothing but `ingested_at`.
    """
    now = datetime.now(UTC)
    raw = c.RAW_SCHEMA
    with warehouse.transaction():
        warehouse.upsert(
            f"{raw}.{c.RAW_REPOSITORIES}", _table(data.repositories, now), ["full_name"]
        )
        warehouse.upsert(f"{raw}.{c.RAW_USERS}", _table(data.users, now), ["login"])
        warehouse.upsert(
            f"{raw}.{c.RAW_INTERACTIONS}",
            _table(data.interactions, now),
            ["user_login", "repo_full_name", "kind"],
        )
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

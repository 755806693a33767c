"""The warehouse as the scraper's memory: stored repository versions and the ETag cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from octorec import constants as c
from octorec.github.records import StoredRepository
from octorec.warehouse.base import Warehouse

HTTP_CACHE = f"{c.RAW_SCHEMA}.{c.RAW_HTTP_CACHE}"
DETAIL_SOURCES = ("github-graphql", "github-rest")
"""The `source` of repositories whose details came from the live API (GraphQL or REST)."""


def cache_rows(entries: Sequence[tuple[str, str, Any]], fetched_at: datetime) -> pa.Table:
    """`raw.http_cache` rows for (request, etag, stored answer) entries."""
    return pa.table(
        {
            "request": [request for request, _, _ in entries],
            "etag": [etag for _, etag, _ in entries],
            "body": [json.dumps(body) for _, _, body in entries],
            "fetched_at": [fetched_at] * len(entries),
        }
    )


class WarehouseScrapeState:
    """Implements the scraper's `ScrapeState` and `ResponseCache` on the raw tables."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def repository_versions(self) -> dict[str, StoredRepository]:
        sources = ", ".join(f"'{source}'" for source in DETAIL_SOURCES)
        rows = self.warehouse.query(
            "SELECT full_name, pushed_at, updated_at, ingested_at, github_id, "
            f"(github_id IS NOT NULL OR coalesce(source, '') NOT IN ({sources}) "
            "OR strpos(CAST(payload AS VARCHAR), '\"databaseId\"') > 0) AS id_asked "
            f"FROM {c.RAW_SCHEMA}.{c.RAW_REPOSITORIES} WHERE is_available"
        ).to_pylist()
        return {
            row["full_name"].lower(): StoredRepository(
                row["pushed_at"],
                row["updated_at"],
                row["ingested_at"],
                row["github_id"],
                bool(row["id_asked"]),
            )
            for row in rows
        }

    def stored_users(self) -> set[str]:
        rows = self.warehouse.query(
            f"SELECT lower(login) AS login FROM {c.RAW_SCHEMA}.{c.RAW_USERS}"
        )
        return set(rows.column("login").to_pylist())

    def get(self, key: str) -> tuple[str, Any] | None:
        rows = self.warehouse.query(
            f"SELECT etag, body FROM {HTTP_CACHE} WHERE request = ?", [key]
        ).to_pylist()
        if not rows:
            return None
        return rows[0]["etag"], json.loads(rows[0]["body"]) if rows[0]["body"] else None

    def put(self, key: str, etag: str, body: Any) -> None:
        rows = cache_rows([(key, etag, body)], datetime.now(UTC))
        self.warehouse.upsert(HTTP_CACHE, rows, ["request"])

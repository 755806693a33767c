"""The warehouse as the scraper's memory: stored repository versions and the ETag cache."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from octorec import constants as c
from octorec.warehouse.base import Warehouse

HTTP_CACHE = f"{c.RAW_SCHEMA}.{c.RAW_HTTP_CACHE}"


class WarehouseScrapeState:
    """Implements the scraper's `ScrapeState` and `ResponseCache` on the raw tables."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def repository_versions(self) -> dict[str, datetime | None]:
        rows = self.warehouse.query(
            f"SELECT full_name, pushed_at FROM {c.RAW_SCHEMA}.{c.RAW_REPOSITORIES} "
            "WHERE is_available"
        ).to_pylist()
        return {row["full_name"].lower(): row["pushed_at"] for row in rows}

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
        self.warehouse.upsert(
            HTTP_CACHE,
            pa.table(
                {
                    "request": [key],
                    "etag": [etag],
                    "body": [json.dumps(body)],
                    "fetched_at": [datetime.now(UTC)],
                }
            ),
            ["request"],
        )

"""Repositories renamed on GitHub: one row under the newest name, keyed on GitHub's numeric id.

GitHub keeps a repository's numeric id (`id` in REST, `databaseId` in GraphQL) through renames
and transfers. When details arrive under a name while the warehouse holds the same id (or the
name that was asked for and redirected) under another, the older name's interactions move to
the new name and its row goes, so the old name never reaches `dbt_projects` or a recommendation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from octorec import constants as c
from octorec.sources.base import RepositoryRecord
from octorec.warehouse.base import Warehouse

logger = logging.getLogger(__name__)

REPOSITORIES = f"{c.RAW_SCHEMA}.{c.RAW_REPOSITORIES}"
INTERACTIONS = f"{c.RAW_SCHEMA}.{c.RAW_INTERACTIONS}"


def old_names(warehouse: Warehouse, records: Sequence[RepositoryRecord]) -> dict[str, str]:
    """Stored lower-cased names that are older names of `records`, and each one's new name."""
    moves: dict[str, str] = {}
    by_id = {r.github_id: r.full_name for r in records if r.github_id is not None}
    if by_id:
        placeholders = ", ".join("?" for _ in by_id)
        rows = warehouse.query(
            f"SELECT full_name, github_id FROM {REPOSITORIES} WHERE github_id IN ({placeholders})",
            list(by_id),
        ).to_pylist()
        for row in rows:
            new = by_id[row["github_id"]]
            if row["full_name"].lower() != new.lower():
                moves[row["full_name"].lower()] = new
    for record in records:
        asked = record.payload.get("renamed_from")
        if isinstance(asked, str) and asked.lower() != record.full_name.lower():
            moves.setdefault(asked.lower(), record.full_name)
    current = {r.full_name.lower() for r in records}
    return {old: new for old, new in moves.items() if old not in current}


def move_renamed(warehouse: Warehouse, records: Sequence[RepositoryRecord]) -> dict[str, str]:
    """Move older names' interactions to the new names and drop the older rows.

    Runs inside the caller's transaction, after the new rows were written. Returns the moves.
    """
    moves = old_names(warehouse, records)
    for old, new in moves.items():
        warehouse.execute(
            f"INSERT INTO {INTERACTIONS} "
            "(user_login, repo_full_name, kind, interacted_at, source, ingested_at) "
            "SELECT user_login, ?, kind, interacted_at, source, ingested_at "
            f"FROM {INTERACTIONS} WHERE lower(repo_full_name) = ? ON CONFLICT DO NOTHING",
            [new, old],
        )
        warehouse.execute(f"DELETE FROM {INTERACTIONS} WHERE lower(repo_full_name) = ?", [old])
        warehouse.execute(f"DELETE FROM {REPOSITORIES} WHERE lower(full_name) = ?", [old])
        logger.info("repository %s was renamed to %s: its rows moved", old, new)
    return moves

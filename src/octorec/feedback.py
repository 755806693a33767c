"""What users told octorec about projects: `like` or `dismiss`, one answer per (user, project).

Feedback lives in the warehouse's `raw.feedback` table on both backends. The API writes it
(`POST /users/{login}/feedback`); the next pipeline run reads it through dbt, where a like
counts as an interaction (the project joins the user's known projects) and a dismissal as an
exclusion (`dismissed_projects`, never recommended). Logins are stored lower-case, as GitHub
compares them; projects by their catalogue name. Values travel as parameters only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final

from octorec import constants as c
from octorec.warehouse import Warehouse

FEEDBACK_TABLE: Final = f"{c.RAW_SCHEMA}.{c.RAW_FEEDBACK}"


class FeedbackKind(StrEnum):
    """What a user said about a project."""

    LIKE = "like"
    """Counts as an interaction in the next run, like a star."""
    DISMISS = "dismiss"
    """Never recommended to that user again (at once in the API, and by the next run)."""


@dataclass(frozen=True)
class Feedback:
    """One stored answer."""

    user_login: str
    """Lower-case."""
    project_full_name: str
    kind: FeedbackKind
    created_at: datetime
    """When this kind was first given (repeating it changes nothing)."""


_COLUMNS = "user_login, project_full_name, kind, created_at"


def record_feedback(
    warehouse: Warehouse,
    login: str,
    project_full_name: str,
    kind: FeedbackKind,
    at: datetime | None = None,
) -> Feedback:
    """Store a user's answer about a project and return what is stored.

    Idempotent: the same kind again keeps the row (and its time) as it was; the other kind
    replaces it, with a new time.
    """
    login = login.lower()
    at = at or datetime.now(UTC)
    with warehouse.transaction():
        warehouse.execute(
            f"INSERT INTO {FEEDBACK_TABLE} AS f ({_COLUMNS}) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (user_login, project_full_name) DO UPDATE "
            "SET kind = excluded.kind, created_at = excluded.created_at "
            "WHERE f.kind <> excluded.kind",
            [login, project_full_name, str(kind), at],
        )
        rows = warehouse.query(
            f"SELECT {_COLUMNS} FROM {FEEDBACK_TABLE} "
            "WHERE user_login = ? AND project_full_name = ?",
            [login, project_full_name],
        ).to_pylist()
    return _feedback(rows[0])


def remove_feedback(warehouse: Warehouse, login: str, project_full_name: str) -> bool:
    """Forget a user's answer about a project; whether there was one."""
    login = login.lower()
    with warehouse.transaction():
        found = (
            warehouse.query(
                f"SELECT count(*) AS n FROM {FEEDBACK_TABLE} "
                "WHERE user_login = ? AND project_full_name = ?",
                [login, project_full_name],
            )
            .column("n")[0]
            .as_py()
        )
        warehouse.execute(
            f"DELETE FROM {FEEDBACK_TABLE} WHERE user_login = ? AND project_full_name = ?",
            [login, project_full_name],
        )
    return bool(found)


def read_feedback(warehouse: Warehouse, login: str | None = None) -> list[Feedback]:
    """Every stored answer (or one user's), by login then project name."""
    where, params = ("WHERE user_login = ?", [login.lower()]) if login is not None else ("", [])
    rows = warehouse.query(
        f"SELECT {_COLUMNS} FROM {FEEDBACK_TABLE} {where} ORDER BY user_login, project_full_name",
        params,
    ).to_pylist()
    return [_feedback(row) for row in rows]


def _feedback(row: dict[str, object]) -> Feedback:
    created = row["created_at"]
    assert isinstance(created, datetime)
    return Feedback(
        user_login=str(row["user_login"]),
        project_full_name=str(row["project_full_name"]),
        kind=FeedbackKind(str(row["kind"])),
        created_at=created.astimezone(UTC),
    )

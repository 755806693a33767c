"""Feedback routes (`/users/{login}/feedback`) and the store every answering route filters by.

`FeedbackStore` holds every user's answers in memory: read from the warehouse when the app
starts and every refresh interval (another process may have written some), and updated at
once on each write, so a dismissed project disappears from that user's answers with the next
request. `FeedbackStore.dismissed` is the one filter: each route that answers a user with
projects (stored or computed on request) leaves out what it returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from octorec.feedback import (
    Feedback,
    FeedbackKind,
    read_feedback,
    record_feedback,
    remove_feedback,
)
from octorec.serving.api import LOGIN, REPOSITORY, Login, NotFound, Owner, Repository, _json
from octorec.serving.auth import require_token
from octorec.serving.snapshot import SnapshotHolder
from octorec.settings import Settings
from octorec.warehouse import Warehouse, WarehouseBusyError, WarehouseError

logger = logging.getLogger(__name__)

FULL_NAME = f"{LOGIN[:-1]}/{REPOSITORY[1:]}"
"""`owner/name`, each part as GitHub allows it."""


class FeedbackRequest(BaseModel):
    """A user's answer about one project."""

    model_config = ConfigDict(extra="forbid")

    project: Annotated[
        str, Field(pattern=FULL_NAME, max_length=140, description="`owner/name` of a project")
    ]
    kind: FeedbackKind = Field(
        description="`like`: counts as an interaction in the next run; `dismiss`: never "
        "recommended to this user again"
    )


class FeedbackEntry(BaseModel):
    login: str
    """Lower-case."""
    project: str
    kind: FeedbackKind
    created_at: str
    """When this kind was first given (ISO 8601, UTC)."""


class UserFeedback(BaseModel):
    login: str
    feedback: list[FeedbackEntry]


class FeedbackRemoved(BaseModel):
    login: str
    project: str
    removed: bool
    """False when there was nothing to remove (removing is idempotent)."""


class Problem(BaseModel):
    detail: str


def _entry(feedback: Feedback) -> dict[str, Any]:
    return {
        "login": feedback.user_login,
        "project": feedback.project_full_name,
        "kind": str(feedback.kind),
        "created_at": feedback.created_at.isoformat(),
    }


class FeedbackStore:
    """Every user's feedback in memory, written through to the warehouse.

    Readers never wait: each user's answers are an immutable mapping replaced as a whole on a
    write or a reload. Writes and reloads are serialised, so a reload never drops a write.
    """

    def __init__(
        self,
        open_reader: Callable[[], AbstractContextManager[Warehouse]],
        open_writer: Callable[[], AbstractContextManager[Warehouse]],
        interval: float,
    ) -> None:
        self._open_reader = open_reader
        self._open_writer = open_writer
        self.interval = interval
        self._by_login: dict[str, dict[str, Feedback]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    # -- reading ----------------------------------------------------------------------------
    def of(self, login: str) -> list[Feedback]:
        """A user's answers, by project name."""
        return sorted(
            self._by_login.get(login.lower(), {}).values(), key=lambda f: f.project_full_name
        )

    def dismissed(self, login: str) -> frozenset[str]:
        """The lower-case full names of the projects `login` dismissed: never to be answered."""
        mine = self._by_login.get(login.lower(), {})
        return frozenset(name for name, f in mine.items() if f.kind is FeedbackKind.DISMISS)

    def without_dismissed(
        self, login: str, items: Iterable[dict[str, Any]], name: Callable[[dict[str, Any]], str]
    ) -> list[dict[str, Any]]:
        """`items` (in order) less those whose project `name` the user dismissed."""
        dismissed = self.dismissed(login)
        if not dismissed:
            return list(items)
        return [item for item in items if name(item).lower() not in dismissed]

    # -- writing ----------------------------------------------------------------------------
    def record(self, login: str, project: str, kind: FeedbackKind) -> Feedback:
        """Store an answer in the warehouse, then in memory."""
        with self._lock, self._open_writer() as warehouse:
            stored = record_feedback(warehouse, login, project, kind)
            mine = dict(self._by_login.get(stored.user_login, {}))
            mine[project.lower()] = stored
            self._by_login[stored.user_login] = mine
        return stored

    def remove(self, login: str, project: str) -> bool:
        """Forget an answer, in the warehouse and in memory; whether there was one."""
        with self._lock, self._open_writer() as warehouse:
            removed = remove_feedback(warehouse, login, project)
            mine = dict(self._by_login.get(login.lower(), {}))
            mine.pop(project.lower(), None)
            self._by_login[login.lower()] = mine
        return removed

    # -- keeping up with other writers ------------------------------------------------------
    def load(self) -> bool:
        """Read every answer from the warehouse; False (keeping what is held) when it cannot
        be read (a database without the table yet counts as no feedback)."""
        with self._lock:
            try:
                with self._open_reader() as warehouse:
                    rows = read_feedback(warehouse)
            except WarehouseError as error:
                missing = "does not exist" in str(error) or "no octorec database" in str(error)
                if missing:
                    self._by_login, self.last_error = {}, None
                    return True
                self.last_error = str(error)
                logger.warning("kept the feedback held: %s", error)
                return False
            by_login: dict[str, dict[str, Feedback]] = {}
            for row in rows:
                by_login.setdefault(row.user_login, {})[row.project_full_name.lower()] = row
            self._by_login, self.last_error = by_login, None
        return True

    def start(self) -> None:
        """Load now, then every `interval` seconds until `stop`."""
        self.load()
        if self.interval > 0:
            self._thread = threading.Thread(target=self._loop, name="feedback-refresh", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.load()
            except Exception as error:  # the thread must outlive any failure
                self.last_error = f"{type(error).__name__}: {error}"
                logger.warning("could not reload the feedback: %s", self.last_error)

    def stop(self) -> None:
        """End the reload thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _unavailable(error: WarehouseError) -> HTTPException:
    busy = isinstance(error, WarehouseBusyError)
    reason = "busy (a pipeline run is writing to it)" if busy else "unavailable"
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=f"feedback not stored: the database is {reason}; try again shortly",
        headers={"Retry-After": "5"},
    )


def feedback_router(settings: Settings, holder: SnapshotHolder, store: FeedbackStore) -> APIRouter:
    """The feedback routes; writes need the bearer token when `API_TOKEN` is set."""
    router = APIRouter(tags=["feedback"])
    protected = [Depends(require_token(settings))]
    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "`API_TOKEN` is set and no valid token was sent"},
        404: {"model": NotFound, "description": "no such project in the catalogue"},
        503: {"model": Problem, "description": "the database cannot be written right now"},
    }

    @router.post(
        "/users/{login}/feedback",
        response_model=FeedbackEntry,
        responses=errors,
        dependencies=protected,
    )
    def give_feedback(login: Login, answer: FeedbackRequest) -> Any:
        """Like or dismiss a project for a user (idempotent: the same kind again changes
        nothing, the other kind replaces it). A dismissed project leaves the user's answers at
        once; the next pipeline run counts a like as an interaction and never recommends a
        dismissed project."""
        project = holder.current.project(answer.project)["full_name"]
        try:
            stored = store.record(login, project, answer.kind)
        except WarehouseError as error:
            raise _unavailable(error) from None
        logger.info("feedback: %s %s %s", stored.user_login, stored.kind, stored.project_full_name)
        return _json(_entry(stored))

    @router.delete(
        "/users/{login}/feedback/{owner}/{repo}",
        response_model=FeedbackRemoved,
        responses=errors,
        dependencies=protected,
    )
    def remove(login: Login, owner: Owner, repo: Repository) -> Any:
        """Undo a like or a dismissal (idempotent: `removed` says whether there was one)."""
        project = holder.current.project(f"{owner}/{repo}")["full_name"]
        try:
            removed = store.remove(login, project)
        except WarehouseError as error:
            raise _unavailable(error) from None
        logger.info("feedback: %s removed %s (%s)", login.lower(), project, removed)
        return _json({"login": login.lower(), "project": project, "removed": removed})

    @router.get("/users/{login}/feedback", response_model=UserFeedback)
    async def feedback_of(login: Login) -> Any:
        """A user's likes and dismissals, by project name (open to read)."""
        return _json({"login": login.lower(), "feedback": [_entry(f) for f in store.of(login)]})

    return router

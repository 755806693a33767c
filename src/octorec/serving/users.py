"""`GET /users/{login}`: the evidence behind a user's recommendations, from the stored data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from octorec.serving.api import Login, NotFound, Project, _json
from octorec.serving.feedback import FeedbackKind, FeedbackStore
from octorec.serving.snapshot import SnapshotHolder


class UserProfile(BaseModel):
    login: str
    run_id: str | None
    known_projects: list[Project]
    """What the user starred, owns or liked when the run scored them (the evidence), by name."""
    recommendations: int
    """How many stored recommendations are left after their dismissals."""
    liked: list[str]
    """Projects liked since (they count as known from the next run)."""
    dismissed: list[str]
    """Projects dismissed: left out of every answer."""


def user_router(holder: SnapshotHolder, feedback: FeedbackStore) -> APIRouter:
    """The user route, reading the snapshot and the feedback held in memory."""
    router = APIRouter(tags=["recommendations"])

    @router.get("/users/{login}", response_model=UserProfile, responses={404: {"model": NotFound}})
    async def user(login: Login) -> Any:
        """A user with stored recommendations: the projects they starred, own or liked (what
        their recommendations were made from), and their feedback since."""
        snapshot = holder.current
        stored = snapshot.login(login)
        left = feedback.without_dismissed(
            login, snapshot.recommendations[stored.lower()], lambda r: r["project"]["full_name"]
        )
        mine = feedback.of(login)
        return _json(
            {
                "login": stored,
                "run_id": snapshot.run_id,
                "known_projects": snapshot.known_of(login),
                "recommendations": len(left),
                "liked": [f.project_full_name for f in mine if f.kind is FeedbackKind.LIKE],
                "dismissed": [f.project_full_name for f in mine if f.kind is FeedbackKind.DISMISS],
            }
        )

    return router

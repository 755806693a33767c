"""The HTTP API and web page (`octorec serve`): FastAPI over the in-memory results snapshot.

Routes read the snapshot (`octorec.serving.snapshot`), never the database, so a request costs
a dictionary lookup and a JSON encoding; `/health` is the one route that opens the warehouse.
Parameters are validated by FastAPI (422 with the offending field), unknown logins and
repositories get 404 with close matches. OpenAPI documentation is at `/docs`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from threadpoolctl import threadpool_limits

from octorec.results import UnknownNameError, last_run
from octorec.serving.snapshot import SnapshotHolder
from octorec.settings import Settings
from octorec.warehouse import WarehouseBusyError, WarehouseError, open_warehouse

STATIC = Path(__file__).with_name("static")
MAX_RECOMMENDATIONS = 100
"""The most recommendations one request returns."""

LOGIN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
"""GitHub logins: letters, digits and hyphens, at most 39, not starting with a hyphen."""
OWNER = LOGIN
REPOSITORY = r"^[A-Za-z0-9._-]{1,100}$"

Login = Annotated[str, PathParam(pattern=LOGIN, description="GitHub login (any case)")]
Owner = Annotated[str, PathParam(pattern=OWNER, description="repository owner")]
Repository = Annotated[str, PathParam(pattern=REPOSITORY, description="repository name")]


class Project(BaseModel):
    full_name: str
    description: str | None
    language: str | None
    stars: int | None
    topics: list[str]
    url: str


class ProjectDetail(Project):
    categories: list[str]
    tech_stack: list[str]


class Components(BaseModel):
    """The unweighted score components, each in [0, 1]."""

    semantic: float
    category: float
    tech_stack: float
    popularity: float
    collaborative: float


class Recommendation(BaseModel):
    rank: int
    project: Project
    score: float
    components: Components
    matched_categories: list[str]
    matched_tech_stack: list[str]
    similar_known_project: str | None
    reason: str


class Recommendations(BaseModel):
    login: str
    run_id: str | None
    weights: dict[str, float]
    """The weights this user's scores were made with (the cold-start weights for a user who
    knows no project, popularity alone for one without any signal), as shares that sum to 1:
    score = Σ weight × component, a weighted mean in [0, 1]."""
    recommendations: list[Recommendation]


class UserRecommendations(Recommendations):
    computed: bool = False
    """Whether they were computed for this request rather than read from the last run."""
    unknown_projects: list[str] = []
    """With `refresh=true`: fetched stars the catalogue does not hold."""


class ComputedRecommendations(BaseModel):
    login: str | None
    run_id: str | None
    """The run whose catalogue, model and weights they were computed with."""
    computed: bool
    weights: dict[str, float]
    recommendations: list[Recommendation]
    known_projects: list[str]
    """The catalogue projects taken as known (never recommended)."""
    unknown_projects: list[str]
    """Named projects the catalogue does not hold (ignored)."""
    unmatched_categories: list[str]
    """Declared categories the taxonomy does not know (ignored, as the pipeline ignores them)."""
    unmatched_tech_stack: list[str]


class Problem(BaseModel):
    detail: str


class SimilarProject(BaseModel):
    project: Project
    similarity: float
    shared_categories: list[str]
    shared_tech_stack: list[str]


class SimilarProjects(BaseModel):
    project: ProjectDetail
    run_id: str | None
    similar: list[SimilarProject]


class UserMatch(BaseModel):
    login: str
    recommendations: int


class Users(BaseModel):
    query: str
    total: int
    """How many logins match `query` (page through them with `offset`)."""
    offset: int
    users: list[UserMatch]


class Health(BaseModel):
    status: str
    database: str
    last_run_id: str | None
    last_run_at: str | None
    serving_run_id: str | None
    refresh_error: str | None
    """Why the last look for newer results failed (the previous ones are still served)."""


class NotFound(BaseModel):
    detail: str
    close_matches: list[str]


def _json(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def create_app(settings: Settings, refresh_seconds: float | None = None) -> FastAPI:
    """The API and web page over the results stored in `settings`' warehouse."""
    location = settings.warehouse_location
    interval = settings.api_refresh_seconds if refresh_seconds is None else refresh_seconds
    from octorec.serving.feedback import FeedbackStore, feedback_router
    from octorec.serving.on_request import load_scoring, on_request_router
    from octorec.serving.users import user_router

    holder = SnapshotHolder(
        lambda: open_warehouse(location, read_only=True), interval, load_scoring(settings)
    )
    feedback = FeedbackStore(
        lambda: open_warehouse(location, read_only=True), lambda: open_warehouse(location), interval
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Requests are a fraction of a millisecond of NumPy each: BLAS threads spinning up for
        # them (and contending when requests overlap) cost far more than they save.
        with threadpool_limits(1, "blas"):
            holder.start()
            feedback.start()
            yield
            on_request.batcher.stop()
            feedback.stop()
            holder.stop()

    app = FastAPI(
        title="octorec",
        summary="Open-source projects recommended to developers, with the reasons.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.snapshots = holder
    app.state.feedback = feedback
    router, on_request = on_request_router(settings, holder)
    # Dismissed projects never reach a user's answers, stored or computed.
    on_request.dismissed = feedback.dismissed
    app.state.on_request = on_request

    @app.exception_handler(UnknownNameError)
    async def unknown(_: Request, error: UnknownNameError) -> Response:
        return _json({"detail": str(error), "close_matches": error.close_matches}, 404)

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Response:
        """Whether the database can be read, the last run that stored recommendations, and the
        run being served. A database busy with a pipeline run is reported, not a failure: the
        last snapshot is still served."""
        serving = holder.current.run_id
        body: dict[str, Any] = {
            "status": "ok",
            "database": "reachable",
            "last_run_id": None,
            "last_run_at": None,
            "serving_run_id": serving,
            "refresh_error": holder.last_error,
        }
        try:
            with open_warehouse(location, read_only=True, lock_wait=0) as warehouse:
                try:
                    run = last_run(warehouse)
                except WarehouseError:
                    run = None  # reachable, but the pipeline has not stored results yet
        except WarehouseBusyError:
            return _json(body | {"database": "busy: a pipeline run is writing to it"})
        except WarehouseError as error:
            return _json(body | {"status": "unavailable", "database": f"unreachable: {error}"}, 503)
        if run is not None:
            body |= {"last_run_id": run[0], "last_run_at": run[1].isoformat()}
        return _json(body)

    @app.get(
        "/projects/{owner}/{repo}/similar",
        response_model=SimilarProjects,
        responses={404: {"model": NotFound}},
        tags=["projects"],
    )
    async def similar(
        owner: Owner,
        repo: Repository,
        limit: Annotated[int, Query(ge=1, le=50, description="at most this many")] = 10,
    ) -> Response:
        """The projects most like this one, by the cosine of their stored hybrid embeddings."""
        snapshot = holder.current
        full_name = f"{owner}/{repo}"
        project = snapshot.project(full_name)
        return _json(
            {
                "project": project,
                "run_id": snapshot.run_id,
                "similar": snapshot.similar(full_name, limit),
            }
        )

    app.include_router(router)

    @app.get("/users", response_model=Users, tags=["recommendations"])
    async def users(
        query: Annotated[
            str, Query(max_length=39, pattern=r"^[A-Za-z0-9-]*$", description="part of a login")
        ] = "",
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, description="skip this many matches (paging)")] = 0,
    ) -> Response:
        """Logins with stored recommendations that contain `query` (any case): those starting
        with it first, then A to Z; `total` counts every match, `offset` pages through them."""
        snapshot = holder.current
        return _json(
            {
                "query": query,
                "total": snapshot.matches(query),
                "offset": offset,
                "users": snapshot.search(query, limit, offset),
            }
        )

    app.include_router(feedback_router(settings, holder, feedback))
    app.include_router(user_router(holder, feedback))

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

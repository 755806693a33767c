"""Recommendations computed at request time: `POST /recommendations` for anyone, and
`GET /users/{login}/recommendations` with request-time options.

Both score with `octorec.scoring.store.score_users`, the function the batch run stores every
user's rows with, against the `ScoringContext` built once per results snapshot (in the refresh
thread, with the snapshot, never per request): the same catalogue, vectors, item-item model and
weights as the run being served, so a user in that run gets the same list both ways.

The stored route answers from the snapshot whenever it can: without options, and with filters
or exclusions while the stored rows that pass them still fill `limit` (a stored top N filtered
is the top of the filtered ranking, scores do not depend on filters). Otherwise (a `limit` past
the stored top N, filters that leave too few) the stored user's scorer input, read with the
snapshot, is scored on request. `?refresh=true` fetches a login's public stars through the live
GitHub source's client (its retries, rate-limit handling and conditional-request cache) and
scores them; it spends GitHub quota, so it needs the bearer token when `API_TOKEN` is set.

`OnRequest.dismissed` is the hook for feedback: a callable from login to the projects that
user dismissed, excluded from every answer, stored or computed (default: none).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from octorec.results import UnknownUserError, close_matches
from octorec.scoring.context import ScoringContext, load_catalogue, select_users
from octorec.scoring.inputs import UserFeatures, read_users, user_features
from octorec.scoring.person import Person, ProfileEncoder, person_features, recommend_person
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.rows import weights_used
from octorec.serving.auth import require_token
from octorec.serving.batching import ScoringBatcher
from octorec.serving.snapshot import ResultsSnapshot, SnapshotHolder, recommendation_payload
from octorec.settings import Settings
from octorec.warehouse import Warehouse

logger = logging.getLogger(__name__)

LOGIN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"
FULL_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
LABEL = r"^[^\x00-\x1f]{1,100}$"
MAX_STARRED = 2000
"""Projects a request may name (a heavy GitHub user has a few thousand stars)."""
MAX_LABELS = 50
MAX_BIO = 2000
MAX_LIMIT = 100
MAX_FILTER_VALUES = 50
PLAIN_ANSWERS = 20_000
"""Stored users' encoded plain answers kept (`OnRequest.plain_answer`; about 5 kB each)."""

FullName = Annotated[str, StringConstraints(pattern=FULL_NAME, max_length=140)]
Label = Annotated[str, StringConstraints(pattern=LABEL, strip_whitespace=True)]


@dataclass(frozen=True)
class Scoring:
    """What request-time scoring reads for one results snapshot."""

    context: ScoringContext
    users: UserFeatures
    """The stored users' scorer input, as the run scored them."""
    rows: dict[str, int]
    """Lower-case login → row of `users`."""


def load_scoring(settings: Settings) -> Callable[[Warehouse], Scoring]:
    """The loader `SnapshotHolder` calls with each new snapshot: the context (the item-item
    model fitted on the stored users' projects, as the run fitted it) and the stored users."""

    def load(warehouse: Warehouse) -> Scoring:
        from threadpoolctl import threadpool_limits

        from octorec.cores import available_cores
        from octorec.ranker.pipeline import served_ranking_model
        from octorec.scoring.context import build_context

        projects = load_catalogue(warehouse, settings)
        users = user_features(
            read_users(warehouse, settings), projects.names, settings.model_dimensions
        )
        # The server runs requests on one BLAS thread; the model fit and the index use all.
        with threadpool_limits(available_cores(), "blas"):
            context = build_context(
                projects,
                users.known,
                settings,
                served_ranking_model(warehouse),
                row_invariant=True,  # requests are scored in batches
            )
            context.warm_up()
        rows = {login.lower(): i for i, login in enumerate(users.logins)}
        return Scoring(context=context, users=users, rows=rows)

    return load


class PersonRequest(BaseModel):
    """What is known of a person; any subset, none at all gets the popular projects."""

    model_config = ConfigDict(extra="forbid")

    starred: list[FullName] = Field(
        default_factory=list,
        max_length=MAX_STARRED,
        description="projects they starred, owner/name (names the catalogue lacks are reported)",
    )
    categories: list[Label] = Field(
        default_factory=list,
        max_length=MAX_LABELS,
        description="categories they declared, mapped through the taxonomy as the pipeline does",
    )
    tech_stack: list[Label] = Field(
        default_factory=list, max_length=MAX_LABELS, description="tech stack they declared"
    )
    bio: str | None = Field(
        None, max_length=MAX_BIO, description="a few words about them, embedded like a profile"
    )
    limit: int = Field(10, ge=1, le=MAX_LIMIT, description="at most this many")
    exclude: list[FullName] = Field(
        default_factory=list, max_length=MAX_STARRED, description="projects never to recommend"
    )
    language: list[Label] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="only projects in one of these languages (any case)",
    )
    category: list[Label] = Field(
        default_factory=list,
        max_length=MAX_FILTER_VALUES,
        description="only projects with one of these categories",
    )


def _split(values: Iterable[str] | None) -> list[str]:
    """Repeated and comma-separated query values as one list, blanks dropped."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _json(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


class OnRequest:
    """The request-time routes' state: the settings, the encoder (loaded on the first bio),
    the GitHub client (made on the first refresh) and the dismissal hook."""

    def __init__(self, settings: Settings, holder: SnapshotHolder) -> None:
        self.settings = settings
        self.holder = holder
        self.encoder = ProfileEncoder(settings)
        self.dismissed: Callable[[str], Collection[str]] = lambda login: ()
        """Login → projects that user dismissed: never in their answers (the feedback hook)."""
        self._github: Any = None
        self._github_lock = threading.Lock()
        self.batcher = ScoringBatcher(workers=settings.api_scoring_workers)
        self._plain: tuple[ResultsSnapshot | None, dict[str, bytes]] = (None, {})
        """Scores concurrent requests together (its worker starts with the first)."""

    def scoring(self, snapshot: ResultsSnapshot) -> Scoring:
        """The snapshot's scoring state; 503 when there is none."""
        if snapshot.scoring is None:
            reason = snapshot.scoring_error or "no pipeline results to score against yet"
            raise HTTPException(503, detail=f"request-time scoring unavailable: {reason}")
        scoring: Scoring = snapshot.scoring
        return scoring

    def github_projects(self, login: str) -> tuple[str, list[str]]:
        """A login's canonical spelling and its public stars and owned repositories."""
        from octorec.github.config import scrape_config
        from octorec.github.http import GitHubFetchError
        from octorec.github.source import GitHubApiSource

        if self.settings.github_token is None or not self.settings.github_token.get_secret_value():
            raise HTTPException(
                503, detail="refresh needs a GitHub token: set GITHUB_TOKEN for the server"
            )
        with self._github_lock:
            if self._github is None:
                config = scrape_config(self.settings)
                # A request waits seconds, not the scrape's hour, for a rate-limit reset.
                policy = replace(config.policy, max_wait=min(config.policy.max_wait, 30.0))
                self._github = GitHubApiSource(replace(config, policy=policy))
            source = self._github
        try:
            found = source.user_projects(login)
        except GitHubFetchError as error:
            raise HTTPException(502, detail=f"GitHub could not be read: {error}") from None
        if found is None:
            raise HTTPException(404, detail=f"GitHub has no user {login!r}")
        return found.login, [*found.starred, *found.owned]

    def plain_answer(self, snapshot: ResultsSnapshot, login: str) -> bytes | None:
        """The JSON of a stored user's answer without options (their stored top N), encoded
        once per snapshot; None for a login the snapshot lacks or a user who dismissed some
        project (their answer is filtered per request)."""
        key = login.lower()
        known = snapshot.login_names.get(key)
        if known is None or self.dismissed(known):
            return None
        held, answers = self._plain
        if held is not snapshot:
            answers = {}
            self._plain = (snapshot, answers)
        encoded = answers.get(key)
        if encoded is None:
            if len(answers) >= PLAIN_ANSWERS:
                answers.clear()
            encoded = answers[key] = orjson.dumps(
                {
                    "login": known,
                    "run_id": snapshot.run_id,
                    "computed": False,
                    "weights": snapshot.weights[key],
                    "recommendations": snapshot.recommendations[key][: self.settings.top_n],
                }
            )
        return encoded

    def stored_answer(
        self,
        snapshot: ResultsSnapshot,
        login: str,
        limit: int,
        exclude: Collection[str],
        languages: Collection[str],
        categories: Collection[str],
    ) -> list[dict[str, Any]] | None:
        """The stored rows that pass the options when they fill `limit` (or are all there is
        above the threshold), ranks renumbered; None when they must be computed."""
        stored = snapshot.recommendations[login.lower()]
        if not exclude and not languages and not categories:
            complete = len(stored) < self.settings.top_n or limit <= len(stored)
            return stored[:limit] if complete else None
        # Scores do not depend on filters: the stored rows that pass them are the top of the
        # filtered ranking, as far as they go.
        kept = self.stored_passing(snapshot, login, exclude, languages, categories)
        if len(kept) >= limit or len(stored) < self.settings.top_n:
            return [{**row, "rank": rank} for rank, row in enumerate(kept[:limit], start=1)]
        return None

    def stored_passing(
        self,
        snapshot: ResultsSnapshot,
        login: str,
        exclude: Collection[str],
        languages: Collection[str],
        categories: Collection[str],
    ) -> list[dict[str, Any]]:
        """Every stored row of `login` that passes the options, in stored order."""
        stored = snapshot.recommendations[login.lower()]
        excluded = {name.lower() for name in exclude}
        wanted_languages = {language.lower() for language in languages}
        wanted_categories = {category.lower() for category in categories}
        kept = []
        for row in stored:
            name = row["project"]["full_name"].lower()
            summary = snapshot.projects.get(name)
            if name in excluded:
                continue
            if wanted_languages and (
                summary is None or (summary.language or "").lower() not in wanted_languages
            ):
                continue
            if wanted_categories and (
                summary is None
                or not any(label.lower() in wanted_categories for label in summary.categories)
            ):
                continue
            kept.append(row)
        return kept


def _weights(users: UserFeatures, context: ScoringContext, settings: Settings) -> dict[str, float]:
    used = weights_used(
        settings.weights,
        context.cold_start_weights,
        users.knows_nothing(),
        users.without_signal(),
    )[0]
    return {name: float(used[i]) for i, name in enumerate(COMPONENTS)}


def on_request_router(settings: Settings, holder: SnapshotHolder) -> tuple[APIRouter, OnRequest]:
    """The routes, and their state (`OnRequest.dismissed` is the feedback hook)."""
    from octorec.serving.api import (
        ComputedRecommendations,
        NotFound,
        Problem,
        UserRecommendations,
    )

    router = APIRouter()
    state = OnRequest(settings, holder)
    check_token = require_token(settings)

    def plain(request: Request) -> Response | None:
        encoded = state.plain_answer(holder.current, request.path_params.get("login", ""))
        return None if encoded is None else Response(encoded, media_type="application/json")

    # The stored route answers a request without a query string before FastAPI resolves its
    # parameters (most of a plain request's cost); anything else takes the declared route.
    stored_router = APIRouter(route_class=plain_first(plain))

    @router.post(
        "/recommendations",
        response_model=ComputedRecommendations,
        responses={503: {"model": Problem}},
        tags=["recommendations"],
    )
    async def recommend_anyone(body: PersonRequest) -> Response:
        """Recommendations computed now for what is known of a person: the projects they
        starred, the categories and tech stack they declared, a bio. Scored as the last run
        scored its users (a user in it gets the same list); project names the catalogue lacks
        and labels the taxonomy does not know are reported, not fatal. Concurrent requests
        are scored together (`octorec.serving.batching`), each getting what it would alone."""
        snapshot = holder.current
        scoring = state.scoring(snapshot)
        person = Person(
            starred=body.starred,
            categories=body.categories,
            tech_stack=body.tech_stack,
            bio=body.bio,
        )
        try:
            if body.bio:  # the encoder: a model call (its first load takes seconds)
                users, notes = await run_in_threadpool(
                    person_features, person, scoring.context, settings, state.encoder
                )
            else:
                users, notes = person_features(person, scoring.context, settings)
        except RuntimeError as error:  # the model cannot be loaded (ModelUnavailableError)
            raise HTTPException(503, detail=f"the text encoder is unavailable: {error}") from None
        table = await state.batcher.score(
            users,
            scoring.context,
            settings,
            snapshot.run_id or "",
            top_n=body.limit,
            exclude=body.exclude,
            languages=body.language,
            categories=body.category,
        )
        answer = replace(notes, table=table)
        rows = answer.table.to_pylist()
        return _json(
            {
                "login": None,
                "run_id": snapshot.run_id,
                "computed": True,
                "weights": answer.weights,
                "recommendations": [recommendation_payload(r, snapshot.projects) for r in rows],
                "known_projects": answer.known,
                "unknown_projects": answer.unknown_projects,
                "unmatched_categories": answer.unmatched_categories,
                "unmatched_tech_stack": answer.unmatched_tech_stack,
            }
        )

    @stored_router.get(
        "/users/{login}/recommendations",
        response_model=UserRecommendations,
        responses={
            401: {"model": Problem},
            404: {"model": NotFound},
            502: {"model": Problem},
            503: {"model": Problem},
        },
        tags=["recommendations"],
    )
    async def recommendations(
        request: Request,
        login: Annotated[str, PathParam(pattern=LOGIN, description="GitHub login (any case)")],
        limit: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_LIMIT,
                description=(
                    "at most this many (default: the stored top N); past the stored top N "
                    "they are computed now"
                ),
            ),
        ] = None,
        language: Annotated[
            list[Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{1,200}$")]] | None,
            Query(
                max_length=MAX_FILTER_VALUES,
                description="only projects in these languages (comma list or repeated; any case)",
            ),
        ] = None,
        category: Annotated[
            list[Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f]{1,200}$")]] | None,
            Query(
                max_length=MAX_FILTER_VALUES,
                description="only projects with one of these categories (comma list or repeated)",
            ),
        ] = None,
        exclude: Annotated[
            list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/,-]{1,2000}$")]] | None,
            Query(
                max_length=MAX_STARRED,
                description="projects never to recommend, owner/name (comma list or repeated)",
            ),
        ] = None,
        refresh: Annotated[
            bool,
            Query(
                description=(
                    "fetch the login's public stars from GitHub now and score them (needs "
                    "GITHUB_TOKEN on the server, and the bearer token when API_TOKEN is set)"
                )
            ),
        ] = False,
    ) -> Response:
        """A user's recommendations, best first, each with its components and reason: the
        stored ones, or computed now when the options ask for more than is stored, or for a
        login the last run did not know with `refresh=true`."""
        snapshot = holder.current
        excluded = _split(exclude)
        for name in excluded:
            if not re.fullmatch(FULL_NAME, name):
                raise HTTPException(
                    422, detail=f"exclude: expected owner/name project names, found {name!r}"
                )
        languages, categories = _split(language), _split(category)
        known = snapshot.login_names.get(login.lower())
        if refresh:
            check_token(request)
            scoring = state.scoring(snapshot)

            def fetched() -> tuple[str, Any]:
                canonical, starred = state.github_projects(login)
                answer = recommend_person(
                    Person(starred=starred, login=canonical),
                    scoring.context,
                    settings,
                    snapshot.run_id or "",
                    top_n=settings.top_n if limit is None else limit,
                    exclude={*excluded, *state.dismissed(canonical)},
                    languages=languages,
                    categories=categories,
                )
                return canonical, answer

            canonical, answer = await run_in_threadpool(fetched)
            rows = answer.table.to_pylist()
            return _json(
                {
                    "login": canonical,
                    "run_id": snapshot.run_id,
                    "computed": True,
                    "weights": answer.weights,
                    "recommendations": [recommendation_payload(r, snapshot.projects) for r in rows],
                    "unknown_projects": answer.unknown_projects,
                }
            )
        if known is None:
            hint = (
                "; ?refresh=true fetches their stars from GitHub"
                if settings.github_token is not None
                else ""
            )
            raise UnknownUserError(
                f"no recommendations stored for {login!r}{hint}",
                close_matches(login, snapshot.logins),
            )
        exclusions = {*excluded, *state.dismissed(known)}
        wanted = settings.top_n if limit is None else limit
        found = state.stored_answer(snapshot, login, wanted, exclusions, languages, categories)
        scoring_row = (
            snapshot.scoring.rows.get(login.lower()) if snapshot.scoring is not None else None
        )
        if found is None and limit is None and scoring_row is None:
            # Nothing was asked past what is stored and nothing can be computed: the stored
            # rows that pass (fewer, e.g. after a dismissal) rather than no answer.
            kept = state.stored_passing(snapshot, login, exclusions, languages, categories)
            found = [{**row, "rank": rank} for rank, row in enumerate(kept, start=1)]
        if found is not None:
            return _json(
                {
                    "login": known,
                    "run_id": snapshot.run_id,
                    "computed": False,
                    "weights": snapshot.weights[login.lower()],
                    "recommendations": found,
                }
            )
        scoring = state.scoring(snapshot)
        row = scoring.rows.get(login.lower())
        if row is None:
            raise HTTPException(
                503, detail=f"request-time scoring has no stored profile for {login!r}"
            )
        users = select_users(scoring.users, [row])
        table = await state.batcher.score(
            users,
            scoring.context,
            settings,
            snapshot.run_id or "",
            top_n=wanted,
            exclude=exclusions,
            languages=languages,
            categories=categories,
        )
        return _json(
            {
                "login": known,
                "run_id": snapshot.run_id,
                "computed": True,
                "weights": _weights(users, scoring.context, settings),
                "recommendations": [
                    recommendation_payload(r, snapshot.projects) for r in table.to_pylist()
                ],
            }
        )

    router.include_router(stored_router)
    return router, state


def plain_first(answer: Callable[[Request], Response | None]) -> type[APIRoute]:
    """A route class that tries `answer` first on a request without a query string (None:
    not answered) and otherwise runs the route as declared, parameters validated."""

    class PlainFirst(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            declared = super().get_route_handler()

            async def handler(request: Request) -> Response:
                if not request.scope.get("query_string"):
                    found = answer(request)
                    if found is not None:
                        return found
                return await declared(request)

            return handler

    return PlainFirst

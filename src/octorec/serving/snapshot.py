"""The stored results held in memory, ready to answer requests without touching the database.

A snapshot is read once from the warehouse (recommendations, projects, hybrid embeddings) and
replaced as a whole when a newer run has stored results, so a request always sees one run.
Reading through the snapshot also means nothing a client sends ever reaches SQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from octorec import constants as c
from octorec.results import (
    RECOMMENDATION_COLUMNS,
    ProjectSummary,
    ProjectVectors,
    UnknownProjectError,
    UnknownUserError,
    close_matches,
    known_projects,
    last_run,
    load_project_vectors,
    project_summaries,
    results_marker,
    search_logins,
)
from octorec.scoring.registry import COMPONENTS
from octorec.warehouse import Warehouse, WarehouseError

logger = logging.getLogger(__name__)

COMPONENT_COLUMNS = {name: f"{name}_similarity" for name in COMPONENTS}


def recommendation_payload(
    row: dict[str, Any], projects: dict[str, ProjectSummary]
) -> dict[str, Any]:
    """A `user_project_similarities` row as the API returns it."""
    name = row["project_full_name"]
    return {
        "rank": row["rank"],
        "project": project_payload(projects.get(name.lower()), name),
        "score": row["score"],
        "components": {k: row[v] for k, v in COMPONENT_COLUMNS.items()},
        "matched_categories": list(row["matched_categories"] or []),
        "matched_tech_stack": list(row["matched_tech_stack"] or []),
        "similar_known_project": row["similar_known_project"],
        "reason": row["reason"],
    }


def project_payload(summary: ProjectSummary | None, full_name: str) -> dict[str, Any]:
    """A project as the API returns it (a name alone when it was not prepared)."""
    if summary is None:
        return {
            "full_name": full_name,
            "description": None,
            "language": None,
            "stars": None,
            "topics": [],
            "url": f"https://github.com/{full_name}",
        }
    return {
        "full_name": summary.full_name,
        "description": summary.description,
        "language": summary.language,
        "stars": summary.stars,
        "topics": summary.topics,
        "url": summary.url,
    }


@dataclass(frozen=True)
class ResultsSnapshot:
    """One run's stored results, indexed for lookups by login and repository."""

    run_id: str | None
    finished_at: datetime | None
    logins: list[str]
    recommendations: dict[str, list[dict[str, Any]]]
    """Lower-case login → JSON-ready recommendations, best first."""
    weights: dict[str, dict[str, float]]
    """Lower-case login → the weights their scores were made with."""
    projects: dict[str, ProjectSummary]
    vectors: ProjectVectors
    login_names: dict[str, str] = field(default_factory=dict)
    """Lower-case login → the login as stored."""
    known: dict[str, list[str]] = field(default_factory=dict)
    """Lower-case login → the projects they starred, own or liked (what they were scored on)."""
    scoring: Any = None
    """What request-time scoring reads for this run (`octorec.serving.on_request.Scoring`),
    None when it could not be built (`scoring_error` says why) or was not asked for."""
    scoring_error: str | None = None

    @classmethod
    def empty(cls) -> ResultsSnapshot:
        """Before the first run: nothing to serve."""
        vectors = ProjectVectors([], np.zeros((0, 1), np.float32), [], [])
        return cls(None, None, [], {}, {}, {}, vectors)

    @classmethod
    def load(cls, warehouse: Warehouse) -> ResultsSnapshot:
        """Read the current results; an empty snapshot when the pipeline has not stored any."""
        try:
            run = last_run(warehouse)
        except WarehouseError:
            return cls.empty()
        projects = project_summaries(warehouse)
        rows = warehouse.query(
            f"SELECT {RECOMMENDATION_COLUMNS} FROM {c.USER_PROJECT_SIMILARITIES} "
            "ORDER BY user_login, rank"
        ).to_pylist()
        by_login: dict[str, list[dict[str, Any]]] = {}
        logins: dict[str, str] = {}
        weights: dict[str, dict[str, float]] = {}
        for row in rows:
            login = row["user_login"]
            logins[login.lower()] = login
            weights[login.lower()] = {k: row[f"{k}_weight"] for k in COMPONENT_COLUMNS}
            by_login.setdefault(login.lower(), []).append(recommendation_payload(row, projects))
        return cls(
            run_id=run[0] if run else None,
            finished_at=run[1] if run else None,
            logins=sorted(logins.values(), key=str.lower),
            recommendations=by_login,
            weights=weights,
            projects=projects,
            vectors=load_project_vectors(warehouse),
            login_names=logins,
            known=known_projects(warehouse),
        )

    def recommendations_of(self, login: str, limit: int) -> list[dict[str, Any]]:
        """A user's recommendations, best first; `UnknownUserError` with close matches."""
        found = self.recommendations.get(login.lower())
        if found is None:
            raise UnknownUserError(
                f"no recommendations stored for {login!r}", close_matches(login, self.logins)
            )
        return found[:limit]

    def login(self, login: str) -> str:
        """The login as stored (the one asked for may differ in case)."""
        found = self.login_names.get(login.lower())
        if found is None:
            raise UnknownUserError(
                f"no recommendations stored for {login!r}", close_matches(login, self.logins)
            )
        return found

    def search(self, query: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Logins containing `query`, from the `offset`-th, with their number of
        recommendations (`matches` counts them all)."""
        return [
            {"login": login, "recommendations": len(self.recommendations[login.lower()])}
            for login in search_logins(self.logins, query, offset + limit)[offset:]
        ]

    def matches(self, query: str) -> int:
        """How many logins contain `query`."""
        return len(search_logins(self.logins, query, len(self.logins)))

    def known_of(self, login: str) -> list[dict[str, Any]]:
        """The projects a user starred, owns or liked, as the API returns projects."""
        names = self.known.get(self.login(login).lower(), [])
        return [project_payload(self.projects.get(name.lower()), name) for name in names]

    def project(self, full_name: str) -> dict[str, Any]:
        """A project's summary; `UnknownProjectError` with close matches."""
        summary = self.projects.get(full_name.lower())
        if summary is None:
            names = [p.full_name for p in self.projects.values()]
            raise UnknownProjectError(
                f"no project stored as {full_name!r}", close_matches(full_name, names)
            )
        return {
            **project_payload(summary, summary.full_name),
            "categories": summary.categories,
            "tech_stack": summary.tech_stack,
        }

    def similar(self, full_name: str, limit: int) -> list[dict[str, Any]]:
        """The projects most like `full_name`, from the stored hybrid embeddings."""
        return [
            {
                "project": project_payload(self.projects.get(s.full_name.lower()), s.full_name),
                "similarity": s.similarity,
                "shared_categories": s.shared_categories,
                "shared_tech_stack": s.shared_tech_stack,
            }
            for s in self.vectors.similar(full_name, limit)
        ]


class SnapshotHolder:
    """The snapshot requests read, replaced when the warehouse holds newer results.

    `refresh` compares the stored results' marker (`results_marker`) with the held one and
    reloads only on a change; a warehouse that cannot be read (busy with a run, down) keeps the
    held snapshot and records why in `last_error`. `start` refreshes every `interval` seconds
    in a daemon thread that survives any error.
    """

    def __init__(
        self,
        open_warehouse: Callable[[], AbstractContextManager[Warehouse]],
        interval: float,
        load_scoring: Callable[[Warehouse], Any] | None = None,
    ) -> None:
        self._open = open_warehouse
        self.interval = interval
        self._load_scoring = load_scoring
        self.current = ResultsSnapshot.empty()
        self.last_error: str | None = None
        self._marker: tuple[object, ...] | None = None
        self._loaded = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Load the stored results if they changed; True when the snapshot was replaced."""
        try:
            with self._open() as warehouse:
                marker = results_marker(warehouse)
                if self._loaded and marker == self._marker:
                    self.last_error = None
                    return False
                started = time.perf_counter()
                snapshot = ResultsSnapshot.load(warehouse)
                if self._load_scoring is not None and snapshot.run_id is not None:
                    snapshot = self._with_scoring(snapshot, warehouse)
        except WarehouseError as error:
            self.last_error = str(error)
            logger.warning("kept the results of run %s: %s", self.current.run_id, error)
            return False
        self.current, self._marker, self._loaded, self.last_error = snapshot, marker, True, None
        logger.info(
            "serving run %s: %d users, %d projects (loaded in %.2f s)",
            snapshot.run_id,
            len(snapshot.logins),
            len(snapshot.projects),
            time.perf_counter() - started,
        )
        return True

    def _with_scoring(self, snapshot: ResultsSnapshot, warehouse: Warehouse) -> ResultsSnapshot:
        # Built with the snapshot, in the same read, so a request never pairs one run's stored
        # results with another's scoring context. A failure leaves the stored results served.
        assert self._load_scoring is not None
        try:
            scoring = self._load_scoring(warehouse)
        except (WarehouseError, ValueError, LookupError) as error:
            logger.warning(
                "request-time scoring unavailable for run %s: %s", snapshot.run_id, error
            )
            return replace(snapshot, scoring_error=str(error))
        return replace(snapshot, scoring=scoring)

    def start(self) -> None:
        """Refresh now, then every `interval` seconds until `stop`."""
        self.refresh()
        if self.interval > 0:
            self._thread = threading.Thread(target=self._loop, name="snapshot-refresh", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except Exception as error:  # the thread must outlive any failure
                self.last_error = f"{type(error).__name__}: {error}"
                logger.warning("could not refresh the results: %s", self.last_error)

    def stop(self) -> None:
        """End the refresh thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

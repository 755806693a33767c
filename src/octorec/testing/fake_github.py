"""A local HTTP server that behaves like the GitHub API for the calls octorec makes.

It serves REST (`/rate_limit`, `/search/repositories`, `/repos/{owner}/{repo}`, `/users/{login}`,
`/users/{login}/starred`, `/users/{login}/repos`) and GraphQL (`POST /graphql`, batched
`repository(owner:, name:)` lookups) from a snapshot directory in the github-sample format, with
GitHub's pagination (`Link` headers), the 1,000-result search cap, ETags and `304 Not Modified`
(free of rate limit), per-resource rate-limit headers, renamed (301) and deleted (404)
repositories, optional latency, and one-shot fault injection: primary and secondary rate limits,
502/503, timeouts, connection resets, truncated JSON, a body sent in slow pieces, GraphQL's
transient "Something went wrong" answer (`200` with `data: null`) and a per-repository
`SERVICE_UNAVAILABLE` error. Like GitHub, GraphQL refuses anonymous requests (401) and can refuse
batches heavier than `graphql_max_nodes` with the transient answer. Between or during runs the
data can change: `FakeGitHubData.rename` renames a repository (keeping its id), GraphQL fields
can be overridden per repository (`graphql_overrides`, e.g. `languages: None`, which GitHub's
schema allows), and `FakeGitHub.schedule` changes the data just before a chosen request.

Run it by hand to try `OCTOREC_SOURCE=github` offline:

    python -m octorec.testing.fake_github --snapshot ../shared/data/github-sample --port 8765
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

SEARCH_CAP = 1000
FAULT_KINDS = ("primary", "secondary", "429", "502", "503", "timeout", "reset", "truncated")
GRAPHQL_FAULT_KINDS = ("graphql-timeout", "node-unavailable")
BODY_FAULT_KINDS = ("slow-body",)
GRAPHQL_TIMEOUT_MESSAGE = (
    "Something went wrong while executing your query. This may be the result of a timeout, or "
    "it could be a GitHub bug. Please include `0400:3F5E:1A2B3C:4D5E6F:674C2A10` when reporting "
    "this issue."
)


@dataclass
class Fault:
    """One injected failure, fired once on the first request whose path matches."""

    kind: str
    path_pattern: str = ".*"
    after: int = 0  # let this many matching requests through first
    fired: bool = False

    def __post_init__(self) -> None:
        kinds = FAULT_KINDS + GRAPHQL_FAULT_KINDS + BODY_FAULT_KINDS
        if self.kind not in kinds:
            raise ValueError(f"fault kind must be one of {kinds}, not {self.kind!r}")


@dataclass
class Change:
    """A change to the data made once, just before the first matching request is answered."""

    path_pattern: str
    action: Callable[[FakeGitHubData], None]
    after: int = 0
    fired: bool = False


@dataclass
class RateBucket:
    """A rate-limit resource (core, search, graphql) with GitHub's header semantics."""

    limit: int
    window_seconds: float
    remaining: int = -1
    reset_at: float = 0.0

    def take(self, now: float) -> bool:
        if self.remaining < 0 or now >= self.reset_at:
            self.remaining, self.reset_at = self.limit, now + self.window_seconds
        if self.remaining == 0:
            return False
        self.remaining -= 1
        return True

    def headers(self, resource: str, now: float) -> dict[str, str]:
        if self.remaining < 0 or now >= self.reset_at:
            self.remaining, self.reset_at = self.limit, now + self.window_seconds
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
            "X-RateLimit-Used": str(self.limit - self.remaining),
            "X-RateLimit-Resource": resource,
        }


@dataclass
class FakeGitHubData:
    """What the fake API knows: repositories, users, stars, renames and deletions."""

    repositories: dict[str, dict[str, Any]] = field(default_factory=dict)  # by lower full name
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # by lower login
    stars: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # login → (name, at)
    renamed: dict[str, str] = field(default_factory=dict)  # lower old name → new full name
    gone: dict[str, int] = field(default_factory=dict)  # lower full name → 404 or 451
    # lower full name → GraphQL fields answered instead of the repository's own
    graphql_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_snapshot(
        cls, directory: Path, *, users: list[str] | None = None, max_repositories: int | None = None
    ) -> FakeGitHubData:
        """Build the data from `repos.csv`, `user_stars.csv` (and `users.csv`) in a directory."""
        data = cls()
        with (directory / "repos.csv").open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=1):
                if max_repositories is not None and number > max_repositories:
                    break
                data.add_repository(row, number)
        with (directory / "user_stars.csv").open(newline="", encoding="utf-8") as handle:
            for position, row in enumerate(csv.DictReader(handle)):
                login = row["user"]
                if users is not None and login not in users:
                    continue
                data.users.setdefault(login.lower(), _profile(login))
                if row["repo_full_name"].lower() not in data.repositories:
                    continue
                starred_at = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=position)
                data.stars.setdefault(login.lower(), []).append(
                    (row["repo_full_name"], starred_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
                )
        return data

    def add_repository(self, row: dict[str, str], number: int) -> None:
        """Add one repository from a `repos.csv` row."""
        full_name = row["full_name"]
        owner, name = full_name.split("/", 1)
        pushed = row.get("pushed_at") or "2025-01-01T00:00:00Z"
        language = row.get("language") or None
        description = row.get("description") or None
        self.repositories[full_name.lower()] = {
            "id": number,
            "node_id": f"R_{number}",
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner},
            "description": description,
            "language": language,
            "languages": {language: 10_000 + number} if language else {},
            "topics": [t for t in (row.get("topics") or "").split("|") if t],
            "stargazers_count": int(float(row["stars"])) if row.get("stars") else 0,
            "forks_count": int(float(row["forks"])) if row.get("forks") else 0,
            "watchers_count": int(float(row["stars"])) if row.get("stars") else 0,
            "open_issues_count": int(float(row["open_issues"])) if row.get("open_issues") else 0,
            "license": {"spdx_id": "MIT"} if number % 3 else None,
            "homepage": None,
            "fork": False,
            "archived": False,
            "disabled": False,
            "created_at": row.get("created_at") or "2020-01-01T00:00:00Z",
            "updated_at": pushed,
            "pushed_at": pushed,
            "readme": f"# {name}\n\n{description or ''}\n\nInstall with your package manager.",
        }

    def rename(self, old: str, new: str) -> None:
        """Rename a repository as GitHub does: same id, the old name redirects (301), and every
        list (stars, owned repositories) shows the new name."""
        repo = self.repositories.pop(old.lower())
        owner, name = new.split("/", 1)
        repo.update(full_name=new, name=name, owner={"login": owner})
        self.repositories[new.lower()] = repo
        self.renamed = {k: new if v.lower() == old.lower() else v for k, v in self.renamed.items()}
        self.renamed[old.lower()] = new
        for login, stars in self.stars.items():
            self.stars[login] = [(new if n.lower() == old.lower() else n, at) for n, at in stars]


def _profile(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": int(hashlib.sha1(login.encode()).hexdigest()[:8], 16),
        "type": "User",
        "name": login.title(),
        "bio": f"{login} builds open-source software",
        "company": None,
        "location": "Earth",
    }


def _rest_repository(repo: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in repo.items() if key not in ("readme", "languages")}


def _graphql_repository(repo: dict[str, Any]) -> dict[str, Any]:
    languages = repo["languages"]
    return {
        "databaseId": repo["id"],
        "nameWithOwner": repo["full_name"],
        "description": repo["description"],
        "homepageUrl": repo["homepage"],
        "primaryLanguage": {"name": repo["language"]} if repo["language"] else None,
        "languages": {
            "edges": [{"size": size, "node": {"name": name}} for name, size in languages.items()]
        },
        "repositoryTopics": {"nodes": [{"topic": {"name": t}} for t in repo["topics"]]},
        "stargazerCount": repo["stargazers_count"],
        "forkCount": repo["forks_count"],
        "watchers": {"totalCount": repo["watchers_count"]},
        "issues": {"totalCount": repo["open_issues_count"]},
        "licenseInfo": {"spdxId": repo["license"]["spdx_id"]} if repo["license"] else None,
        "isFork": repo["fork"],
        "isArchived": repo["archived"],
        "isDisabled": repo["disabled"],
        "createdAt": repo["created_at"],
        "updatedAt": repo["updated_at"],
        "pushedAt": repo["pushed_at"],
        "readme": {"text": repo["readme"]},
    }


_STAR_QUALIFIER = re.compile(r"stars:(>=|<=|>|<)?(\d+)(?:\.\.(\d+))?")
_LANGUAGE_QUALIFIER = re.compile(r"language:(\"[^\"]+\"|\S+)")
_GRAPHQL_REPOSITORY = re.compile(
    r"(\w+)\s*:\s*repository\(\s*owner:\s*(\"(?:[^\"\\]|\\.)*\")\s*,\s*name:\s*(\"(?:[^\"\\]|\\.)*\")\s*\)"
)


def _matches(repo: dict[str, Any], query: str) -> bool:
    stars = repo["stargazers_count"]
    for operator, low, high in _STAR_QUALIFIER.findall(query):
        low_value = int(low)
        if high:
            if not low_value <= stars <= int(high):
                return False
        elif (
            (operator == ">" and not stars > low_value)
            or (operator == ">=" and not stars >= low_value)
            or (operator == "<" and not stars < low_value)
            or (operator == "<=" and not stars <= low_value)
            or (operator == "" and stars != low_value)
        ):
            return False
    for language in _LANGUAGE_QUALIFIER.findall(query):
        if (repo["language"] or "").lower() != language.strip('"').lower():
            return False
    words = _LANGUAGE_QUALIFIER.sub("", _STAR_QUALIFIER.sub("", query)).split()
    text = f"{repo['full_name']} {repo['description'] or ''}".lower()
    return all(word.lower() in text for word in words)


class FakeGitHub:
    """The server: start it, point `GITHUB_API_URL` at `url`, inspect `requests` afterwards."""

    def __init__(
        self,
        data: FakeGitHubData,
        *,
        core_limit: int = 5000,
        search_limit: int = 30,
        graphql_limit: int = 5000,
        window_seconds: float = 3600.0,
        latency_seconds: float = 0.0,
        graphql_node_latency_seconds: float = 0.0,
        hang_seconds: float = 3.0,
        token: str | None = None,
        graphql_max_nodes: int | None = None,
    ) -> None:
        self.data = data
        self.buckets = {
            "core": RateBucket(core_limit, window_seconds),
            "search": RateBucket(search_limit, window_seconds),
            "graphql": RateBucket(graphql_limit, window_seconds),
        }
        self.latency_seconds = latency_seconds
        self.graphql_node_latency_seconds = graphql_node_latency_seconds
        self.hang_seconds = hang_seconds
        self.token = token
        self.graphql_max_nodes = graphql_max_nodes
        self.faults: list[Fault] = []
        self.changes: list[Change] = []
        self.graphql_batch_sizes: list[int] = []
        self.requests: Counter[str] = Counter()
        self.not_modified = 0
        self.seen_authorization: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeGitHub:
        """Serve on 127.0.0.1 (a free port unless one is given) in a background thread."""
        handler = _handler_for(self)
        self._server = _QuietServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give octorec as `GITHUB_API_URL`."""
        assert self._server is not None, "start the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def inject(self, kind: str, path_pattern: str = ".*", after: int = 0) -> None:
        """Make the next matching request (after `after` of them) fail once with `kind`."""
        self.faults.append(Fault(kind, path_pattern, after))

    def schedule(
        self, path_pattern: str, action: Callable[[FakeGitHubData], None], after: int = 0
    ) -> None:
        """Change the data once, just before the matching request (after `after` of them) is
        answered: a star removed while a list is paged, a rename between two requests."""
        self.changes.append(Change(path_pattern, action, after))

    def _apply_changes(self, path: str) -> None:
        with self._lock:
            due = []
            for change in self.changes:
                if change.fired or not re.search(change.path_pattern, path):
                    continue
                if change.after > 0:
                    change.after -= 1
                    continue
                change.fired = True
                due.append(change)
            for change in due:
                change.action(self.data)

    # -- request handling ------------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.fired or not re.search(fault.path_pattern, path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.fired = True
                return fault
        return None

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes | None, Fault | None]:
        """Answer one request: status, headers, body (None for 304) and any fault to apply."""
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if "authorization" in headers:
            self.seen_authorization.add(headers["authorization"])
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, _json({"message": "Bad credentials"}), None
        if path == "/graphql" and "authorization" not in headers:
            message = "This endpoint requires you to be authenticated."
            return 401, {}, _json({"message": message}), None
        self._apply_changes(path)
        endpoint = _endpoint_name(method, path)
        with self._lock:
            self.requests[endpoint] += 1
        resource = (
            "search"
            if path.startswith("/search/")
            else ("graphql" if path == "/graphql" else "core")
        )
        now = time.time()
        fault = self._take_fault(path)
        bucket = self.buckets[resource]
        if fault is not None and fault.kind == "primary":
            with self._lock:
                bucket.headers(resource, now)
                bucket.remaining = 0
        if fault is not None and fault.kind == "secondary":
            with self._lock:
                limit_headers = bucket.headers(resource, now)
            return (
                403,
                {**limit_headers, "Retry-After": "1"},
                _json({"message": "You have exceeded a secondary rate limit. Please wait."}),
                None,
            )
        if fault is not None and fault.kind == "429":
            return 429, {"Retry-After": "1"}, _json({"message": "Too Many Requests"}), None
        if fault is not None and fault.kind in ("502", "503"):
            return int(fault.kind), {}, _json({"message": "Server Error"}), None
        if fault is not None and fault.kind in ("timeout", "reset"):
            return 0, {}, None, fault
        if fault is not None and fault.kind == "graphql-timeout":
            return 200, {}, _json(_graphql_timeout()), None

        status, payload, extra = self._route(method, path, query, body)
        if fault is not None and fault.kind == "node-unavailable" and isinstance(payload, dict):
            payload = _node_unavailable(payload)
        etag = None
        if status == 200 and method == "GET":
            etag = '"' + hashlib.sha1(_json(payload)).hexdigest() + '"'
            if headers.get("if-none-match") == etag:
                with self._lock:
                    self.not_modified += 1
                return 304, {"ETag": etag, **bucket.headers(resource, now)}, None, None
        with self._lock:
            allowed = bucket.take(now)
            rate_headers = bucket.headers(resource, now)
        if not allowed:
            return 403, rate_headers, _json({"message": "API rate limit exceeded"}), None
        response_headers = {**rate_headers, **extra}
        if etag:
            response_headers["ETag"] = etag
        return status, response_headers, _json(payload), fault

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/rate_limit":
            now = time.time()
            return (
                200,
                {
                    "resources": {
                        name: {
                            "limit": bucket.limit,
                            "remaining": max(bucket.remaining, 0)
                            if bucket.remaining >= 0
                            else bucket.limit,
                            "reset": math.ceil(bucket.reset_at or now),
                        }
                        for name, bucket in self.buckets.items()
                    }
                },
                {},
            )
        if method == "GET" and path == "/search/repositories":
            return self._search(path, query)
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/languages|/readme)?", path)
        if method == "GET" and match:
            status, payload, extra = self._repository(f"{match[1]}/{match[2]}")
            if status != 200:
                return status, payload, extra
            if match[3] is None:
                return status, {**payload, "subscribers_count": payload["watchers_count"]}, extra
            repo = self.data.repositories[payload["full_name"].lower()]
            if match[3] == "/languages":
                return 200, repo["languages"], {}
            content = base64.b64encode(repo["readme"].encode()).decode()
            return 200, {"name": "README.md", "encoding": "base64", "content": content}, {}
        match = re.fullmatch(r"/repositories/(\d+)", path)
        if method == "GET" and match:
            for repo in self.data.repositories.values():
                if repo["id"] == int(match[1]):
                    return 200, _rest_repository(repo), {}
            return 404, {"message": "Not Found"}, {}
        match = re.fullmatch(r"/users/([^/]+)(/starred|/repos)?", path)
        if method == "GET" and match:
            return self._user(match[1], match[2], path, query)
        if method == "POST" and path == "/graphql":
            return self._graphql(body)
        return 404, {"message": "Not Found"}, {}

    def _search(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        q = query.get("q", [""])[0]
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        if page * per_page > SEARCH_CAP and (page - 1) * per_page >= SEARCH_CAP:
            return 422, {"message": "Only the first 1000 search results are available"}, {}
        hits = [
            r
            for key, r in self.data.repositories.items()
            if key not in self.data.gone and _matches(r, q)
        ]
        hits.sort(key=lambda r: (-r["stargazers_count"], r["id"]))
        visible = hits[:SEARCH_CAP]
        items = visible[(page - 1) * per_page : page * per_page]
        last = max(1, math.ceil(len(visible) / per_page))
        payload = {
            "total_count": len(hits),
            "incomplete_results": False,
            "items": [_rest_repository(r) for r in items],
        }
        return 200, payload, _links(path, query, page, last)

    def _repository(self, full_name: str) -> tuple[int, Any, dict[str, str]]:
        key = full_name.lower()
        if key in self.data.gone:
            status = self.data.gone[key]
            return status, {"message": "Not Found" if status == 404 else "Blocked"}, {}
        if key in self.data.renamed:
            target = self.data.repositories[self.data.renamed[key].lower()]
            return (
                301,
                {"message": "Moved Permanently", "url": f"/repositories/{target['id']}"},
                {"Location": f"/repositories/{target['id']}"},
            )
        repo = self.data.repositories.get(key)
        if repo is None:
            return 404, {"message": "Not Found"}, {}
        return 200, _rest_repository(repo), {}

    def _user(
        self, login: str, sub: str | None, path: str, query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        user = self.data.users.get(login.lower())
        if user is None:
            return 404, {"message": "Not Found"}, {}
        if sub is None:
            return 200, user, {}
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        if sub == "/starred":
            rows = [
                {"starred_at": at, "repo": _rest_repository(self.data.repositories[name.lower()])}
                for name, at in self.data.stars.get(login.lower(), [])
                if name.lower() in self.data.repositories and name.lower() not in self.data.gone
            ]
        else:
            rows = [
                _rest_repository(r)
                for r in self.data.repositories.values()
                if r["owner"]["login"].lower() == login.lower()
            ]
        last = max(1, math.ceil(len(rows) / per_page))
        return 200, rows[(page - 1) * per_page : page * per_page], _links(path, query, page, last)

    def _graphql(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        request = json.loads(body or b"{}")
        text = request.get("query", "")
        data: dict[str, Any] = {}
        errors = []
        lookups = _GRAPHQL_REPOSITORY.findall(text)
        with self._lock:
            self.graphql_batch_sizes.append(len(lookups))
        if self.graphql_max_nodes is not None and len(lookups) > self.graphql_max_nodes:
            return 200, _graphql_timeout(), {}
        if self.graphql_node_latency_seconds:
            time.sleep(self.graphql_node_latency_seconds * len(lookups))
        for alias, owner, name in lookups:
            full_name = f"{json.loads(owner)}/{json.loads(name)}"
            key = full_name.lower()
            key = self.data.renamed.get(key, full_name).lower()
            repo = self.data.repositories.get(key)
            if repo is None or key in self.data.gone:
                data[alias] = None
                errors.append(
                    {
                        "type": "NOT_FOUND",
                        "path": [alias],
                        "message": (
                            f"Could not resolve to a Repository with the name '{full_name}'."
                        ),
                    }
                )
            else:
                data[alias] = {
                    **_graphql_repository(repo),
                    **self.data.graphql_overrides.get(key, {}),
                }
        if "rateLimit" in text:
            bucket = self.buckets["graphql"]
            data["rateLimit"] = {
                "cost": 1,
                "remaining": bucket.remaining,
                "resetAt": datetime.fromtimestamp(bucket.reset_at, UTC).isoformat(),
            }
        payload: dict[str, Any] = {"data": data}
        if errors:
            payload["errors"] = errors
        return 200, payload, {}


def _graphql_timeout() -> dict[str, Any]:
    """GitHub's answer to a query that ran out of time: HTTP 200, no data, one error."""
    return {"data": None, "errors": [{"message": GRAPHQL_TIMEOUT_MESSAGE}]}


def _node_unavailable(payload: dict[str, Any]) -> dict[str, Any]:
    """The first repository of a GraphQL answer replaced by a transient error on its path."""
    data = dict(payload.get("data") or {})
    aliases = [alias for alias in data if alias != "rateLimit" and data[alias] is not None]
    if not aliases:
        return payload
    data[aliases[0]] = None
    error = {
        "type": "SERVICE_UNAVAILABLE",
        "path": [aliases[0]],
        "message": "Something went wrong while resolving this field.",
    }
    return {**payload, "data": data, "errors": [*payload.get("errors", []), error]}


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (killed scrapers, timeouts) are normal here, not errors to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


def _endpoint_name(method: str, path: str) -> str:
    if path == "/graphql":
        return "graphql"
    if path.startswith("/search/"):
        return "search"
    if re.fullmatch(r"/users/[^/]+/starred", path):
        return "starred"
    if re.fullmatch(r"/users/[^/]+/repos", path):
        return "user_repos"
    if path.startswith("/users/"):
        return "user"
    if path.startswith(("/repos/", "/repositories/")):
        return "repository"
    return f"{method} {path}"


def _links(path: str, query: dict[str, list[str]], page: int, last: int) -> dict[str, str]:
    def url(number: int) -> str:
        params = {k: v[0] for k, v in query.items()} | {"page": str(number)}
        return f"<{path}?{urlencode(params)}>"

    links = []
    if page < last:
        links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
    if page > 1:
        links += [f'{url(1)}; rel="first"', f'{url(page - 1)}; rel="prev"']
    return {"Link": ", ".join(links)} if links else {}


def _json(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True).encode()


def _handler_for(api: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, like a real server

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, response_headers, payload, fault = api.handle(method, self.path, headers, body)
            if fault is not None and fault.kind == "timeout":
                time.sleep(api.hang_seconds)
                self.close_connection = True
                return
            if fault is not None and fault.kind == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(status)
            for name, value in response_headers.items():
                self.send_header(name, value)
            if payload is None:
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if fault is not None and fault.kind == "truncated":
                payload = payload[: max(1, len(payload) // 2)]
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if fault is not None and fault.kind == "slow-body":
                # Ten pieces, each well within a read timeout, the whole past it.
                size = max(1, math.ceil(len(payload) / 10))
                for start in range(0, len(payload), size):
                    self.wfile.write(payload[start : start + size])
                    self.wfile.flush()
                    time.sleep(api.hang_seconds / 5)
                return
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def main() -> None:
    """Serve a snapshot directory as a fake GitHub API until interrupted."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--snapshot", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    args = parser.parse_args()
    api = FakeGitHub(FakeGitHubData.from_snapshot(args.snapshot), latency_seconds=args.latency)
    api.start(args.port)
    print(f"fake GitHub API on {api.url} ({len(api.data.repositories)} repositories)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()

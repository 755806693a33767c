"""A GitHub API client that waits out rate limits, retries faults and uses conditional requests.

Behaviour, following GitHub's guidance for integrators:
- primary rate limit (`X-RateLimit-Remaining: 0`): wait until `X-RateLimit-Reset`, then retry;
- secondary limits and 429: honour `Retry-After`, else back off exponentially with jitter;
- 5xx, timeouts, dropped connections, truncated JSON and GraphQL's transient "Something went
  wrong" answer (`200` with `data: null`): bounded retries with backoff, then `GitHubFetchError`
  naming what was not fetched;
- the timeout bounds a whole request, not each read: a body sent in slow pieces is abandoned
  once the request has taken longer than the timeout, and retried;
- GET requests send `If-None-Match` with the stored ETag: a `304` costs no rate limit and the
  stored body is reused;
- redirects (301 for renamed repositories) are followed.

The token is only ever placed in the `Authorization` header; messages name method and path only.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

logger = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
RETRYABLE_STATUS = (500, 502, 503, 504)


class GitHubFetchError(RuntimeError):
    """A request still failed after every retry; the message names what was not fetched."""


class GraphQLTimeoutError(GitHubFetchError):
    """GraphQL kept answering that the query ran out of time: a smaller query may succeed."""


# GitHub's answer to a GraphQL query that ran out of time (HTTP 200, `data: null`).
_GRAPHQL_TRANSIENT = ("something went wrong while executing your query", "timeout", "timed out")


class ResponseCache(Protocol):
    """Where ETags and the bodies they stand for are kept between runs."""

    def get(self, key: str) -> tuple[str, Any] | None:
        """The stored (etag, body) for a request, if any."""

    def put(self, key: str, etag: str, body: Any) -> None:
        """Remember a response body and its ETag."""


class MemoryCache:
    """A `ResponseCache` in a dict, for one process."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, Any]] = {}

    def get(self, key: str) -> tuple[str, Any] | None:
        return self._entries.get(key)

    def put(self, key: str, etag: str, body: Any) -> None:
        self._entries[key] = (etag, body)


@dataclass(frozen=True)
class ApiResponse:
    """A parsed answer: status, JSON body, headers, and whether it came from a 304."""

    status: int
    body: Any
    headers: httpx.Headers
    not_modified: bool = False
    url: str = ""

    @property
    def etag(self) -> str | None:
        """The answer's ETag (a `304` repeats the stored one)."""
        return self.headers.get("etag")

    def next_page(self) -> str | None:
        """The `rel="next"` link of a paginated answer."""
        for part in self.headers.get("link", "").split(","):
            if 'rel="next"' in part:
                return part[part.index("<") + 1 : part.index(">")]
        return None


@dataclass
class RequestStats:
    """Counts for logs and metadata: requests, retries, waits and what they cost."""

    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    seconds_waited: float = 0.0
    remaining: dict[str, int] = field(default_factory=dict)
    reset_at: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        """A flat dict for Dagster metadata."""
        return {
            "requests": self.requests,
            "not_modified": self.not_modified,
            "retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "seconds_waited": round(self.seconds_waited, 2),
            "rate_limit_remaining": dict(self.remaining),
        }


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff base and cap, the longest reset wait."""

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    max_wait: float = 3600.0
    max_rate_limit_waits: int = 20

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given attempt (0-based)."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))


class GitHubHttp:
    """One connection pool to a GitHub API (api.github.com or an Enterprise/test base URL)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        cache: ResponseCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "octorec",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.cache = cache or MemoryCache()
        self.stats = RequestStats()
        self._sleep = sleep
        self.timeout = timeout
        self._client = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, follow_redirects=True
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> GitHubHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        accept: str | None = None,
        missing_ok: bool = False,
    ) -> ApiResponse:
        """GET with a conditional request; 404/410/451 return normally when `missing_ok`."""
        url = f"{path}?{urlencode(params)}" if params else path
        headers = {"Accept": accept} if accept else {}
        cached = self.cache.get(url)
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        response = self._send("GET", url, headers=headers, missing_ok=missing_ok)
        if response.status == 304 and cached is not None:
            self.stats.not_modified += 1
            # A 304 carries no Link header: the stored one keeps pagination going.
            replay = httpx.Headers(response.headers)
            if cached[1].get("link"):
                replay["link"] = cached[1]["link"]
            return ApiResponse(200, cached[1]["body"], replay, not_modified=True, url=url)
        etag = response.headers.get("etag")
        if response.status == 200 and etag:
            self.cache.put(url, etag, {"body": response.body, "link": response.headers.get("link")})
        return response

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        timeout_retries: int | None = None,
    ) -> ApiResponse:
        """POST a GraphQL query; query-level errors raise `GitHubFetchError`.

        GitHub's transient failure (`data: null`, "Something went wrong … timeout") is retried
        like a 5xx, but at most `timeout_retries` times when given (a caller that can try a
        smaller query wants to know early), then raises `GraphQLTimeoutError`. Errors tied to
        one aliased field (`path`) leave that field null: the caller decides by the error's
        `type` whether the repository is gone (`NOT_FOUND`) or only failed this time.
        """
        response = self._send(
            "POST",
            "/graphql",
            json_body={"query": query, "variables": variables or {}},
            transient=_graphql_transient,
            transient_retries=timeout_retries,
        )
        body = response.body if isinstance(response.body, dict) else {}
        errors = [e for e in body.get("errors") or [] if not e.get("path")]
        if errors:
            raise GitHubFetchError(f"POST /graphql: query failed: {_error_message(errors[0])}")
        if not isinstance(body.get("data"), dict):
            raise GitHubFetchError("POST /graphql: the answer holds no data")
        return response

    def _send(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
        missing_ok: bool = False,
        transient: Callable[[Any], str | None] | None = None,
        transient_retries: int | None = None,
    ) -> ApiResponse:
        failures = 0
        transient_failures = 0
        waits = 0
        last_problem = ""
        transient_failure = False
        while True:
            transient_failure = False
            try:
                self.stats.requests += 1
                response = self._request(method, url, headers, json_body)
                self._record_limits(response)
                status = response.status_code
                if status == 304:
                    return ApiResponse(304, None, response.headers, url=url)
                body = response.json() if status < 400 else None
                if self._is_rate_limited(response, body):
                    waits += 1
                    if waits > self.policy.max_rate_limit_waits:
                        raise GitHubFetchError(
                            f"{method} {url} still rate limited after {waits - 1} waits"
                        )
                    self._wait_for_limit(response, f"{method} {url}")
                    continue
                if status in (403, 404, 410, 451) and missing_ok:
                    return ApiResponse(status, None, response.headers, url=url)
                problem = transient(body) if transient and status < 400 else None
                if status in RETRYABLE_STATUS:
                    last_problem = f"HTTP {status}"
                elif status >= 400:
                    raise GitHubFetchError(
                        f"{method} {url} failed with HTTP {status}: {_message(response)}"
                    )
                elif problem is not None:
                    last_problem, transient_failure = problem, True
                    transient_failures += 1
                else:
                    return ApiResponse(status, body, response.headers, url=url)
            except httpx.RequestError as error:  # timeouts, resets, broken encodings
                last_problem = type(error).__name__
            except ValueError:  # truncated JSON, or a body cut inside a UTF-8 character
                last_problem = "truncated or invalid JSON"
            early = transient_retries is not None and transient_failures > transient_retries
            if failures >= self.policy.max_retries or (transient_failure and early):
                error_type = GraphQLTimeoutError if transient_failure else GitHubFetchError
                raise error_type(
                    f"{method} {url} not fetched after {failures + 1} attempts ({last_problem})"
                )
            delay = self.policy.backoff(failures)
            failures += 1
            self.stats.retries += 1
            logger.warning("%s %s: %s, retrying in %.1f s", method, url, last_problem, delay)
            self._pause(delay)

    def _request(
        self, method: str, url: str, headers: dict[str, str] | None, json_body: Any
    ) -> httpx.Response:
        """One request whose whole duration (not each read) is bounded by the timeout.

        httpx's timeouts apply to each network operation, so a body sent in slow pieces could
        take far longer; the body is read piece by piece against a deadline instead.
        """
        deadline = time.monotonic() + self.timeout
        request = self._client.build_request(method, url, headers=headers, json=json_body)
        response = self._client.send(request, stream=True)
        try:
            pieces = []
            for piece in response.iter_raw():
                pieces.append(piece)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"no complete answer within {self.timeout:g} s", request=request
                    )
        finally:
            response.close()
        # The same answer with its body in memory (decoded by its Content-Encoding on read).
        whole = httpx.Response(
            response.status_code,
            headers=response.headers,
            content=b"".join(pieces),
            request=request,
            history=response.history,
        )
        whole.read()
        return whole

    @staticmethod
    def _is_rate_limited(response: httpx.Response, body: Any) -> bool:
        """Whether an answer is a rate limit (REST primary or secondary, or GraphQL's, which
        comes as HTTP 200 with a RATE_LIMITED error) rather than a refusal or data."""
        if response.status_code in (403, 429):
            return (
                response.status_code == 429
                or "retry-after" in response.headers
                or response.headers.get("x-ratelimit-remaining") == "0"
                or "rate limit" in _message(response).lower()
            )
        return _graphql_rate_limited(body)

    def _wait_for_limit(self, response: httpx.Response, request: str) -> None:
        """Sleep until `Retry-After`, else until `X-RateLimit-Reset` when the budget is spent,
        else back off (secondary limits without a hint)."""
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            delay = float(retry_after)
        elif response.headers.get("x-ratelimit-remaining") == "0":
            reset = float(response.headers.get("x-ratelimit-reset", time.time()))
            delay = max(0.0, reset - time.time()) + 1.0
        else:
            delay = max(60.0 * self.policy.backoff_base, self.policy.backoff(3))
        if delay > self.policy.max_wait:
            raise GitHubFetchError(
                f"{request}: rate limit resets in {delay:.0f} s, longer than GITHUB_MAX_WAIT "
                f"({self.policy.max_wait:.0f} s)"
            )
        self.stats.rate_limit_waits += 1
        logger.warning(
            "rate limited (%s); waiting %.1f s", response.headers.get("x-ratelimit-resource"), delay
        )
        self._pause(delay)

    def _record_limits(self, response: httpx.Response) -> None:
        resource = response.headers.get("x-ratelimit-resource")
        remaining = response.headers.get("x-ratelimit-remaining")
        if resource and remaining is not None:
            self.stats.remaining[resource] = int(remaining)
            self.stats.reset_at[resource] = int(response.headers.get("x-ratelimit-reset", 0))

    def _pause(self, seconds: float) -> None:
        self.stats.seconds_waited += seconds
        self._sleep(seconds)


def _graphql_rate_limited(body: Any) -> bool:
    """GitHub's GraphQL API reports its rate limit as HTTP 200 with a RATE_LIMITED error."""
    if not isinstance(body, dict):
        return False
    return any(
        str(e.get("type", "")).startswith("RATE_LIMIT") for e in body.get("errors", []) or []
    )


def _graphql_transient(body: Any) -> str | None:
    """Why a GraphQL answer is worth retrying: GitHub's "Something went wrong … timeout" error,
    which comes as HTTP 200 with `data: null` and an error without a `path`."""
    if not isinstance(body, dict):
        return "an answer that is not a JSON object"
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict) and not e.get("path")]
    for error in errors:
        message = _error_message(error)
        if any(marker in message.lower() for marker in _GRAPHQL_TRANSIENT):
            return f"GraphQL: {message[:80]}"
    if body.get("data") is None and not errors:
        return "GraphQL answer without data"
    return None


def _error_message(error: Any) -> str:
    return str(error.get("message", error)) if isinstance(error, dict) else str(error)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except (json.JSONDecodeError, AttributeError):
        return response.text[:200]

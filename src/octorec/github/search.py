"""Repository search past GitHub's 1,000-result cap, by splitting queries on star ranges."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from octorec.github.http import GitHubHttp

logger = logging.getLogger(__name__)

SEARCH_CAP = 1000
PER_PAGE = 100
_STARS = re.compile(r"\bstars:\S+")


def _with_stars(query: str, low: int, high: int) -> str:
    return f"{_STARS.sub('', query).strip()} stars:{low}..{high}".strip()


def _star_bounds(query: str) -> tuple[int, int | None]:
    match = _STARS.search(query)
    if not match:
        return 0, None
    value = match.group(0)[len("stars:") :]
    if ".." in value:
        low, high = value.split("..")
        return (
            int(low) if low and low != "*" else 0,
            int(high) if high and high != "*" else None,
        )
    for prefix, shift in ((">=", 0), (">", 1)):
        if value.startswith(prefix):
            return int(value[len(prefix) :]) + shift, None
    for prefix, shift in (("<=", 0), ("<", -1)):
        if value.startswith(prefix):
            return 0, int(value[len(prefix) :]) + shift
    return int(value), int(value)


def _pages(http: GitHubHttp, query: str, limit: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """(total_count, item) for up to `limit` results of one query, most starred first."""
    page = 1
    seen = 0
    while seen < limit and (page - 1) * PER_PAGE < SEARCH_CAP:
        response = http.get(
            "/search/repositories",
            {"q": query, "sort": "stars", "order": "desc", "per_page": PER_PAGE, "page": page},
        )
        items = response.body["items"]
        for item in items:
            if seen >= limit:
                return
            seen += 1
            yield response.body["total_count"], item
        if not response.next_page() or not items:
            return
        page += 1


def search_repositories(http: GitHubHttp, query: str, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` repositories matching `query`, most starred first.

    When the query matches more than 1,000 repositories (the most the search API returns), the
    star range is split in halves until each part fits, and the parts are read from the most
    starred down.
    """
    first = http.get(
        "/search/repositories",
        {"q": query, "sort": "stars", "order": "desc", "per_page": 1, "page": 1},
    ).body
    total = int(first["total_count"])
    if total <= SEARCH_CAP or limit <= SEARCH_CAP:
        # The first `limit` results, most starred first, are reachable without splitting.
        return [item for _, item in _pages(http, query, limit)]
    low, high = _star_bounds(query)
    top = int(first["items"][0]["stargazers_count"]) if first["items"] else low
    high = top if high is None else min(high, top)
    results: list[dict[str, Any]] = []
    for part in _split(http, query, low, high):
        for _, item in _pages(http, part, limit - len(results)):
            results.append(item)
        if len(results) >= limit:
            break
    return results


def _split(http: GitHubHttp, query: str, low: int, high: int) -> Iterator[str]:
    """Star-range sub-queries of at most 1,000 results each, highest range first."""
    part = _with_stars(query, low, high)
    total = int(
        http.get("/search/repositories", {"q": part, "per_page": 1, "page": 1}).body["total_count"]
    )
    if total <= SEARCH_CAP or low >= high:
        if total > SEARCH_CAP:
            logger.warning(
                "%d repositories have exactly %d stars; only 1,000 are reachable", total, low
            )
        if total:
            yield part
        return
    middle = (low + high) // 2
    yield from _split(http, query, middle + 1, high)
    yield from _split(http, query, low, middle)

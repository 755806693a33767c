"""Benchmark: scraping 1,000 repositories from a GitHub stand-in with realistic latency.

Compares octorec's scraper (search pages + GraphQL batches of details) with the original design's
approach measured in the same run: three REST calls per repository (the repository, its
languages, its README), one after another. Prints JSON.

    python bench/github_scrape.py [--repositories 1000] [--latency 0.02] [--node-latency 0.002]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from machine import describe_machine
from octorec.github.http import GitHubHttp
from octorec.ingestion import ingest
from octorec.settings import load_settings
from octorec.sources import open_source
from octorec.testing.fake_github import FakeGitHub, FakeGitHubData
from octorec.warehouse import open_warehouse

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "github-sample"


def octorec_scrape(api: FakeGitHub, repositories: int) -> dict[str, float]:
    before = sum(api.requests.values())
    with tempfile.TemporaryDirectory() as directory:
        os.environ.update(
            OCTOREC_SOURCE="github",
            GITHUB_API_URL=api.url,
            OCTOREC_DATABASE=str(Path(directory) / "bench.duckdb"),
            GITHUB_SEARCH_QUERIES="stars:>0",
            GITHUB_MAX_REPOSITORIES=str(repositories),
            GITHUB_USERS="",
            GITHUB_TOKEN="bench-token",  # GraphQL (like GitHub's) refuses anonymous requests
        )
        started = time.perf_counter()
        settings = load_settings()
        with open_warehouse(settings.database) as warehouse:
            run = ingest(open_source(settings, warehouse), warehouse)
        seconds = time.perf_counter() - started
    requests = sum(api.requests.values()) - before
    return {
        "repositories": run.repositories,
        "requests": requests,
        "requests_per_repository": round(requests / max(run.repositories, 1), 4),
        "seconds": round(seconds, 2),
    }


def three_rest_calls(api: FakeGitHub, names: list[str]) -> dict[str, float]:
    before = sum(api.requests.values())
    started = time.perf_counter()
    with GitHubHttp(api.url) as http:
        for name in names:
            http.get(f"/repos/{name}")
            http.get(f"/repos/{name}/languages")
            http.get(f"/repos/{name}/readme")
    seconds = time.perf_counter() - started
    requests = sum(api.requests.values()) - before
    return {
        "repositories": len(names),
        "requests": requests,
        "requests_per_repository": round(requests / len(names), 4),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument(
        "--node-latency", type=float, default=0.002, help="extra seconds per GraphQL repository"
    )
    parser.add_argument("--snapshot", type=Path, default=SAMPLE)
    args = parser.parse_args()

    data = FakeGitHubData.from_snapshot(args.snapshot, users=[])
    api = FakeGitHub(
        data,
        search_limit=10_000,
        latency_seconds=args.latency,
        graphql_node_latency_seconds=args.node_latency,
    )
    with api:
        ours = octorec_scrape(api, args.repositories)
        names = sorted(data.repositories.values(), key=lambda r: -r["stargazers_count"])
        reference = three_rest_calls(api, [r["full_name"] for r in names[: args.repositories]])
    print(
        json.dumps(
            {
                "benchmark": "github_scrape",
                "assumptions": {
                    "latency_seconds_per_request": args.latency,
                    "graphql_seconds_per_repository": args.node_latency,
                    "server": "octorec.testing.fake_github on 127.0.0.1, sample data",
                },
                "octorec": ours,
                "reference_three_rest_calls": reference,
                "speedup": round(reference["seconds"] / ours["seconds"], 1),
                "request_ratio": round(reference["requests"] / ours["requests"], 1),
                "machine": describe_machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

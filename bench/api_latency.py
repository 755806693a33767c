"""Benchmark: latency of `GET /users/{login}/recommendations` under concurrent load.

`octorec serve` runs in its own process over the sample's pipeline result
(`data/bench/sample.duckdb`, brought up to date by running the job first). A load generator in
this process opens `--clients` keep-alive connections (default 50) and, for `--seconds` per
phase, each client asks for a random sample user's recommendations as soon as its previous
answer arrived (closed loop: the server is never idle); then the same with
`/projects/{owner}/{repo}/similar` for the projects recommended to 20 users (a cosine against
every project per request). Reported: requests per second, p50 / p95 / p99 latency, and as the
reference measured the same way in the same run, `/health`, the one route that reads the
database per request (opens it, one query): what answering recommendations from SQL per
request would cost instead of from the in-memory snapshot.

The load generator is a few lines of asyncio on raw sockets (HTTP/1.1, keep-alive): a full
HTTP client costs more CPU than the server on this 2-core machine and would measure itself.

    python bench/api_latency.py [--clients 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

from machine import describe_machine
from octorec.testing.processes import free_port, running_server
from sample_database import DATABASE, bring_up_to_date

TARGET_P95_MS = 20.0


async def _client(
    port: int, paths: list[str], stop_at: float, latencies: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            path = random.choice(paths)
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode())
    finally:
        writer.close()


async def _load(port: int, paths: list[str], clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_client(port, paths, stop_at, latencies, errors) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    bring_up_to_date()
    port = free_port()
    log = DATABASE.parent / "serve.log"
    environment = {**os.environ, "OCTOREC_DATABASE": str(DATABASE), "API_REFRESH_SECONDS": "0"}
    octorec = Path(sys.executable).parent / "octorec"
    command = [str(octorec), "serve", "--port", str(port)]
    with running_server(command, f"http://127.0.0.1:{port}/health", log, env=environment):
        import httpx

        users = httpx.get(f"http://127.0.0.1:{port}/users", params={"limit": 100}).json()
        paths = [f"/users/{u['login']}/recommendations" for u in users["users"]]
        asyncio.run(_load(port, paths, args.clients, 2.0))  # warm-up
        recommendations = asyncio.run(_load(port, paths, args.clients, args.seconds))
        projects = {
            r["project"]["full_name"]
            for path in paths[:20]
            for r in httpx.get(f"http://127.0.0.1:{port}{path}").json()["recommendations"]
        }
        similar_paths = [f"/projects/{name}/similar" for name in sorted(projects)]
        similar = asyncio.run(_load(port, similar_paths, args.clients, args.seconds))
        per_request_read = asyncio.run(_load(port, ["/health"], args.clients, args.seconds))
    print(
        json.dumps(
            {
                "benchmark": "api_latency",
                "clients": args.clients,
                "seconds_per_phase": args.seconds,
                "users": len(paths),
                "recommendations": recommendations,
                "similar_projects": similar,
                "reference": "/health (opens the database and queries it per request), same load",
                "reference_per_request_read": per_request_read,
                "ratio_p95": round(per_request_read["p95_ms"] / recommendations["p95_ms"], 2),
                "target_p95_under_20_ms": recommendations["p95_ms"] < TARGET_P95_MS,
                "machine": describe_machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Benchmark: latency of stored and on-request recommendations under concurrent load.

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

On request, in the same run: `POST /recommendations` for people who each starred 50 projects
(50 stars drawn from a sample user who starred more, a different person per request), scored
at request time against the sample catalogue (exact, the default); then a second server over the
125,000-project scale catalogue (`scale_database.py`: the real repositories of
`../shared/data/scale/repos_125k.csv`, synthetic users, stored recommendations from the
pipeline's `score_all`) with `RECOMMENDATION_RETRIEVAL=ann`, measured the same way: the stored
route next to on-request scoring of 50-star people. The machine's load average before and
after each server's phases is reported (other work on the machine slows every figure), and
each phase's server CPU time per request (`/proc`, Linux), which that load inflates least.
Concurrent on-request scoring is batched by the server (`octorec.serving.batching`).

The load generator is a few lines of asyncio on raw sockets (HTTP/1.1, keep-alive): a full
HTTP client costs more CPU than the server on this 2-core machine and would measure itself.

    python bench/api_latency.py [--clients 50] [--seconds 10] [--no-scale]
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
from typing import Any

from machine import describe_machine
from octorec.testing.processes import free_port, running_server
from sample_database import DATABASE, bring_up_to_date

TARGET_P95_MS = 20.0
TARGET_ON_REQUEST_SAMPLE_P95_MS = 50.0
TARGET_ON_REQUEST_SCALE_P95_MS = 250.0
STARS = 50
SCALE_PROJECTS = 125_000
SCALE_USERS = 20_000
PEOPLE = 200


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


def _post(path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _client(
    port: int, requests: list[bytes], stop_at: float, latencies: list[float], errors: list[str]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop_at:
            request = random.choice(requests)
            started = time.perf_counter()
            writer.write(request)
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


def _cpu_seconds(pid: int | None) -> float:
    """The CPU time (user + system) process `pid` has used so far; 0 without one."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    port: int,
    paths: list[str] | list[bytes],
    clients: int,
    seconds: float,
    pid: int | None = None,
) -> dict[str, float]:
    requests = [_get(p) if isinstance(p, str) else p for p in paths]
    latencies: list[float] = []
    errors: list[str] = []
    cpu = _cpu_seconds(pid)
    started = time.perf_counter()
    stop_at = started + seconds
    await asyncio.gather(
        *(_client(port, requests, stop_at, latencies, errors) for _ in range(clients))
    )
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(pid) - cpu
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        # The server's CPU time per request: what other work on the machine inflates least.
        **({"server_cpu_ms_per_request": round(cpu * 1000 / len(latencies), 3)} if pid else {}),
    }


def _people(database: Path, count: int = PEOPLE, seed: int = 0) -> list[bytes]:
    """`POST /recommendations` bodies of people with `STARS` stars each, drawn from the stored
    users who know more (a different draw per body)."""
    from octorec.warehouse import open_warehouse

    with open_warehouse(database, read_only=True) as warehouse:
        known = (
            warehouse.query(
                "SELECT known_projects FROM dbt_user_project_similarities ORDER BY user_login"
            )
            .column("known_projects")
            .to_pylist()
        )
    rich = [names for names in known if len(names) >= STARS]
    if not rich:
        raise RuntimeError(f"no stored user knows {STARS} projects in {database}")
    rng = random.Random(seed)
    return [
        _post("/recommendations", {"starred": rng.sample(rich[i % len(rich)], STARS)})
        for i in range(count)
    ]


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _serve(database: Path, name: str, **extra: str) -> tuple[int, Any]:
    port = free_port()
    log = DATABASE.parent / f"serve-{name}.log"
    environment = {
        **os.environ,
        "OCTOREC_DATABASE": str(database),
        "API_REFRESH_SECONDS": "0",
        **extra,
    }
    octorec = Path(sys.executable).parent / "octorec"
    command = [str(octorec), "serve", "--port", str(port)]
    server = running_server(
        command, f"http://127.0.0.1:{port}/health", log, env=environment, timeout=900
    )
    return port, server


def _sample(args: argparse.Namespace) -> dict:
    import httpx

    bring_up_to_date()
    port, server = _serve(DATABASE, "sample")
    with server as process:
        pid = process.pid if Path(f"/proc/{process.pid}/stat").exists() else None
        base = f"http://127.0.0.1:{port}"
        users = httpx.get(f"{base}/users", params={"limit": 100}).json()
        paths = [f"/users/{u['login']}/recommendations" for u in users["users"]]
        people = _people(DATABASE)
        asyncio.run(_load(port, paths, args.clients, 2.0))  # warm-up
        asyncio.run(_load(port, people, args.clients, 2.0))
        load_before = _load_average()
        recommendations = asyncio.run(_load(port, paths, args.clients, args.seconds, pid))
        on_request = asyncio.run(_load(port, people, args.clients, args.seconds, pid))
        load_after = _load_average()
        projects = {
            r["project"]["full_name"]
            for path in paths[:20]
            for r in httpx.get(f"{base}{path}").json()["recommendations"]
        }
        similar_paths = [f"/projects/{name}/similar" for name in sorted(projects)]
        similar = asyncio.run(_load(port, similar_paths, args.clients, args.seconds, pid))
        per_request_read = asyncio.run(_load(port, ["/health"], args.clients, args.seconds, pid))
    return {
        "users": len(paths),
        "recommendations": recommendations,
        "on_request_50_stars": on_request,
        "on_request_retrieval": "exact",
        "similar_projects": similar,
        "reference": "/health (opens the database and queries it per request), same load",
        "reference_per_request_read": per_request_read,
        "ratio_p95": round(per_request_read["p95_ms"] / recommendations["p95_ms"], 2),
        "target_p95_under_20_ms": recommendations["p95_ms"] < TARGET_P95_MS,
        "target_on_request_p95_under_50_ms": on_request["p95_ms"] < TARGET_ON_REQUEST_SAMPLE_P95_MS,
        "load_average_before_after": [load_before, load_after],
    }


def _scale(args: argparse.Namespace) -> dict:
    import httpx

    from scale_database import scale_database

    database, vectors = scale_database(args.scale_projects, args.scale_users)
    started = time.perf_counter()
    port, server = _serve(database, "scale", RECOMMENDATION_RETRIEVAL="ann")
    with server as process:
        pid = process.pid if Path(f"/proc/{process.pid}/stat").exists() else None
        ready_seconds = time.perf_counter() - started
        base = f"http://127.0.0.1:{port}"
        users = httpx.get(f"{base}/users", params={"limit": 100}).json()
        paths = [f"/users/{u['login']}/recommendations" for u in users["users"]]
        people = _people(database)
        asyncio.run(_load(port, paths, args.clients, 2.0))  # warm-up
        asyncio.run(_load(port, people, args.clients, 2.0))
        load_before = _load_average()
        recommendations = asyncio.run(_load(port, paths, args.clients, args.seconds, pid))
        on_request = asyncio.run(_load(port, people, args.clients, args.seconds, pid))
        load_after = _load_average()
    return {
        "projects": args.scale_projects,
        "users_in_the_model": args.scale_users,
        "retrieval": "ann",
        "project_vectors": vectors,
        "server_ready_seconds": round(ready_seconds, 1),
        "recommendations": recommendations,
        "on_request_50_stars": on_request,
        "target_on_request_p95_under_250_ms": on_request["p95_ms"] < TARGET_ON_REQUEST_SCALE_P95_MS,
        "load_average_before_after": [load_before, load_after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-scale", action="store_true", help="the sample catalogue only")
    parser.add_argument("--no-sample", action="store_true", help="the scale catalogue only")
    parser.add_argument("--scale-projects", type=int, default=SCALE_PROJECTS)
    parser.add_argument("--scale-users", type=int, default=SCALE_USERS)
    args = parser.parse_args()
    result: dict = {
        "benchmark": "api_latency",
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "stars_per_person": STARS,
    }
    if not args.no_sample:
        sample = _sample(args)
        result |= {k: v for k, v in sample.items() if k != "load_average_before_after"}
        result["sample_load_average_before_after"] = sample["load_average_before_after"]
    if not args.no_scale:
        result["scale"] = _scale(args)
    result["machine"] = describe_machine()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

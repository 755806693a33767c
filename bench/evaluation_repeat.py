"""Benchmark: `octorec evaluate` on 35 users × 35,000 repositories, first run against a repeat.

The catalogue is the sample's repositories topped up to 35,000 with repositories of
`../shared/data/scale/repos_125k.csv` (name, stars, description); the users are the first 35
sample users (by login) with their stars. The first evaluation embeds every repository text (the
reference: what the encoder costs); the repeat finds every vector in the evaluation database's
embedding cache. Both run the whole evaluation: three validation folds and the test split through
the pipeline's dbt models, embeddings and scorer, and every baseline. Prints JSON.

    python bench/evaluation_repeat.py [--repositories 35000] [--users 35]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

from machine import describe_machine
from octorec.evaluation.run import EvaluationOptions, evaluate, read_snapshot
from octorec.settings import load_settings

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def build_dataset(directory: Path, repositories: int, users: int) -> tuple[int, int, int]:
    """Write repos.csv and user_stars.csv; return (repositories, users, stars) written."""
    with (SHARED / "github-sample" / "user_stars.csv").open(newline="") as handle:
        stars = list(csv.DictReader(handle))
    chosen = set(sorted({row["user"] for row in stars}, key=str.lower)[:users])
    stars = [row for row in stars if row["user"] in chosen]
    with (SHARED / "github-sample" / "repos.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        repos = list(reader)
    names = {row["full_name"].lower() for row in repos}
    with (SHARED / "scale" / "repos_125k.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if len(repos) >= repositories:
                break
            if row["full_name"].lower() in names:
                continue
            names.add(row["full_name"].lower())
            repos.append(
                dict.fromkeys(header, "")
                | {
                    "full_name": row["full_name"],
                    "stars": row["stars"],
                    "description": row["description"],
                }
            )
    with (directory / "repos.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(repos)
    with (directory / "user_stars.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["user", "repo_full_name"])
        writer.writeheader()
        writer.writerows({"user": r["user"], "repo_full_name": r["repo_full_name"]} for r in stars)
    return len(repos), len(chosen), len(stars)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=35_000)
    parser.add_argument("--users", type=int, default=35)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        repositories, users, stars = build_dataset(directory, args.repositories, args.users)
        os.environ["OCTOREC_EVALUATION_DATABASE"] = str(directory / "evaluation.duckdb")
        settings = load_settings()
        data = read_snapshot(directory / "repos.csv", directory / "user_stars.csv", None)
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            report = evaluate(data, settings, EvaluationOptions())
            timings.append(round(time.perf_counter() - started, 1))
    print(
        json.dumps(
            {
                "benchmark": "evaluation_repeat",
                "dataset": {"repositories": repositories, "users": users, "stars": stars},
                "first_run_seconds": timings[0],
                "repeated_run_seconds": timings[1],
                "speedup": round(timings[0] / timings[1], 2),
                "octorec": {m: round(report.models["octorec"][m], 4) for m in report.headline()},
                "machine": describe_machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

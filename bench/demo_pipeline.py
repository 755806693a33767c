"""Benchmark: the whole job on the sample, from an empty database and again with nothing changed.

Runs `octorec run` (the job as one Dagster run: what `make demo` runs) in a fresh
temporary database and Dagster home, twice, with the configured encoder (`EMBEDDING_BACKEND`,
int8 ONNX on CPU by default); then, as the reference in the same run, once from empty with the
sentence-transformers encoder (`EMBEDDING_BACKEND=torch`). Peak memory is the largest resident
set of any process of the run (Dagster's, or a dbt subprocess), from `getrusage`. Prints JSON.

    python bench/demo_pipeline.py [--snapshot ../shared/data/github-sample] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe_machine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "github-sample"


def _run_job(environment: dict[str, str]) -> dict[str, float]:
    command = [str(Path(sys.executable).parent / "octorec"), "run"]
    started = time.perf_counter()
    # Each run in its own child, so its peak memory is not mixed with an earlier run's.
    measured = subprocess.run(
        [
            sys.executable,
            "-c",
            "import resource, subprocess, sys, json;"
            "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
            "print(json.dumps({'code': code, 'peak_kb': peak}))",
            *command,
        ],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    outcome = json.loads(measured.stdout.strip().splitlines()[-1])
    if outcome["code"] != 0:
        raise SystemExit(f"the job failed:\n{measured.stderr[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_memory_mb": round(outcome["peak_kb"] / 1024)}


def _environment(scratch: Path, snapshot: Path, backend: str | None) -> dict[str, str]:
    home = scratch / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OCTOREC_DATABASE": str(scratch / "octorec.duckdb"),
        "OCTOREC_SNAPSHOT_DIR": str(snapshot),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    if backend is not None:
        environment["EMBEDDING_BACKEND"] = backend
    return environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, default=SAMPLE)
    parser.add_argument("--no-reference", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {"benchmark": "demo_pipeline", "snapshot": str(args.snapshot)}
    with tempfile.TemporaryDirectory() as scratch:
        environment = _environment(Path(scratch), args.snapshot.resolve(), None)
        result["from_empty"] = _run_job(environment)
        result["nothing_changed"] = _run_job(environment)
    if not args.no_reference:
        with tempfile.TemporaryDirectory() as scratch:
            environment = _environment(Path(scratch), args.snapshot.resolve(), "torch")
            result["reference_torch_from_empty"] = _run_job(environment)
        reference = result["reference_torch_from_empty"]["seconds"]  # type: ignore[index]
        result["ratio_from_empty"] = round(reference / result["from_empty"]["seconds"], 2)  # type: ignore[index]
    first, again = result["from_empty"], result["nothing_changed"]
    result["targets"] = {
        "from empty under 90 s": first["seconds"] < 90,  # type: ignore[index]
        "nothing changed under 15 s": again["seconds"] < 15,  # type: ignore[index]
        "peak memory under 1.5 GB": max(first["peak_memory_mb"], again["peak_memory_mb"]) < 1536,  # type: ignore[index]
    }
    result["machine"] = describe_machine()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

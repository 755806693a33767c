"""Benchmark: scoring time and memory from 1k to 100k users and projects, exact and ANN.

Each size runs in its own process (so peak memory is its own): the synthetic world of
`scale_world.py` is built, then the top 5 per user are kept, once exact (every user × every
project, in memory-bounded blocks) and once in ANN mode (faiss IVF candidates, rescored exactly).
Reported per size and mode: seconds to fit the scorer (the item-item model, shared by both
modes), to build the index (ANN), to score, their total (the world's construction excluded),
peak resident memory of the process, and for ANN the recall@5 against exact in the same run and
the speed-up: in total, for scoring alone (the index built, as a persisted index would be), and
for index and scoring together (everything ANN mode adds to the model fit both modes share).
The semantic term runs with `RECOMMENDATION_SEMANTIC_NEIGHBOURS=0` (cosine to the user's
vector): its nearest-neighbour form costs one known-projects × catalogue product per user, which
the `neighbour_semantic_per_user_ms` figure measures on the 10k catalogue.

Writes `bench/results/scoring_scale.json` and `.svg` (time and memory against size, log-log)
and prints the JSON.

    python bench/scoring_scale.py [--sizes 1000x1000,10000x10000,100000x125000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from machine import describe_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
TOP_N = 5


def _one(users: int, projects: int, mode: str, output: Path) -> None:
    from octorec.scoring.ann import AnnRecommender
    from octorec.scoring.exact import ExactRecommender
    from octorec.scoring.scorer import Scorer
    from octorec.scoring.semantic import semantic_similarity
    from octorec.settings import ContentWeights, ScorerSettings, ScoringWeights
    from scale_world import world

    user_features, project_features = world(users, projects)
    weights, cold = ScoringWeights(), ContentWeights().as_scoring_weights()
    started = time.perf_counter()
    scorer = Scorer(user_features, project_features, ScorerSettings(semantic_neighbours=0))
    fit = time.perf_counter() - started
    index_seconds = 0.0
    if mode == "exact":
        started = time.perf_counter()
        result = ExactRecommender(scorer).recommend(weights, TOP_N, 0.05, cold)
    else:
        started = time.perf_counter()
        ann_recommender = AnnRecommender(scorer)
        ann_recommender.index_for(weights)  # timed apart from the search
        index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = ann_recommender.recommend(weights, TOP_N, 0.05, cold)
    score = time.perf_counter() - started
    figures: dict[str, float] = {
        "fit_seconds": round(fit, 2),
        "index_seconds": round(index_seconds, 2),
        "score_seconds": round(score, 2),
        "seconds": round(fit + index_seconds + score, 2),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "recommendations": len(result),
        "known_per_user": round(user_features.known.nnz / users, 1),
    }
    if mode == "exact" and projects == 10_000:
        sample = slice(0, 200)
        started = time.perf_counter()
        semantic_similarity(
            user_features.known[sample],
            user_features.semantic[sample],
            project_features.semantic,
            10,
        )
        figures["neighbour_semantic_per_user_ms"] = round(
            1000 * (time.perf_counter() - started) / 200, 2
        )
    np.savez(output, user=result.user_index, project=result.project_index)
    output.with_suffix(".json").write_text(json.dumps(figures))


def _run(users: int, projects: int, mode: str) -> tuple[dict[str, float], dict[int, set[int]]]:
    output = RESULTS / f"scale-{users}x{projects}-{mode}.npz"
    command = [sys.executable, __file__, "--one", f"{users}:{projects}:{mode}", str(output)]
    subprocess.run(command, check=True)
    figures = json.loads(output.with_suffix(".json").read_text())
    kept = np.load(output)
    pairs: dict[int, set[int]] = {}
    for user, project in zip(kept["user"].tolist(), kept["project"].tolist(), strict=True):
        pairs.setdefault(user, set()).add(project)
    return figures, pairs


def _recall(approximate: dict[int, set[int]], exact: dict[int, set[int]]) -> float:
    found = [
        len(approximate.get(user, set()) & wanted) / len(wanted) for user, wanted in exact.items()
    ]
    return float(np.mean(found)) if found else 1.0


def _svg(rows: list[dict[str, object]]) -> str:
    """Seconds and peak memory against users × projects, log-log, one line per mode."""
    width, height, pad = 640, 300, 50
    pairs = [float(r["users"]) * float(r["projects"]) for r in rows]  # type: ignore[arg-type]
    lines = []
    for panel, (metric, unit) in enumerate([("seconds", "s"), ("peak_memory_mb", "MB")]):
        left = pad + panel * (width // 2)
        values = [float(r[metric]) for r in rows]  # type: ignore[arg-type]
        x_low, x_high = np.log10(min(pairs)), np.log10(max(pairs)) + 1e-9
        y_low, y_high = np.log10(min(values)) - 0.1, np.log10(max(values)) + 0.1

        def point(
            x: float,
            y: float,
            left: int = left,
            x_low: float = x_low,
            x_high: float = x_high,
            y_low: float = y_low,
            y_high: float = y_high,
        ) -> tuple[float, float]:
            px = left + (np.log10(x) - x_low) / (x_high - x_low) * (width / 2 - 2 * pad)
            py = height - pad - (np.log10(y) - y_low) / (y_high - y_low) * (height - 2 * pad)
            return round(float(px), 1), round(float(py), 1)

        lines.append(f'<text x="{left}" y="20" font-size="13">{metric} ({unit}, log scale)</text>')
        axis_end, axis_y = left + width / 2 - 2 * pad, height - pad
        lines.append(
            f'<line x1="{left}" y1="{axis_y}" x2="{axis_end}" y2="{axis_y}" stroke="#999"/>'
        )
        for mode, colour in (("exact", "#1f77b4"), ("ann", "#d62728")):
            chosen = [
                (p, float(r[metric])) for p, r in zip(pairs, rows, strict=True) if r["mode"] == mode
            ]  # type: ignore[arg-type]
            path = " ".join(f"{point(x, y)[0]},{point(x, y)[1]}" for x, y in chosen)
            lines.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
            for x, y in chosen:
                px, py = point(x, y)
                lines.append(f'<circle cx="{px}" cy="{py}" r="3" fill="{colour}"/>')
                lines.append(f'<text x="{px + 4}" y="{py - 4}" font-size="10">{y:g}</text>')
            label_y = 40 + 14 * (mode == "ann")
            lines.append(
                f'<text x="{left + 10}" y="{label_y}" font-size="11" fill="{colour}">{mode}</text>'
            )
        for x in sorted(set(pairs)):
            px, _ = point(x, values[0])
            lines.append(
                f'<text x="{px - 20}" y="{height - pad + 15}" font-size="9">{x:.0e}</text>'
            )
        lines.append(f'<text x="{left}" y="{height - 10}" font-size="10">users × projects</text>')
    body = "\n".join(lines)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="scoring time and memory against size">\n{body}\n</svg>\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000x1000,10000x10000,100000x125000")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        users, projects, mode = args.one[0].split(":")
        _one(int(users), int(projects), mode, Path(args.one[1]))
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for size in args.sizes.split(","):
        users, projects = (int(part) for part in size.split("x"))
        exact, exact_pairs = _run(users, projects, "exact")
        ann, ann_pairs = _run(users, projects, "ann")
        ann["recall_at_5_vs_exact"] = round(_recall(ann_pairs, exact_pairs), 4)
        ann["speedup_vs_exact"] = round(exact["seconds"] / ann["seconds"], 2)
        ann["speedup_scoring_only"] = round(exact["score_seconds"] / ann["score_seconds"], 2)
        ann["speedup_index_and_scoring"] = round(
            exact["score_seconds"] / (ann["index_seconds"] + ann["score_seconds"]), 2
        )
        rows.append({"users": users, "projects": projects, "mode": "exact", **exact})
        rows.append({"users": users, "projects": projects, "mode": "ann", **ann})
        print(json.dumps(rows[-2:]), file=sys.stderr, flush=True)
    result = {
        "benchmark": "scoring_scale",
        "top_n": TOP_N,
        "rows": rows,
        "machine": describe_machine(),
    }
    (RESULTS / "scoring_scale.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "scoring_scale.svg").write_text(_svg(rows))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

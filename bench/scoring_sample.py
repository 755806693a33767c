"""Benchmark: scoring the 65 sample users against the 6,279 sample projects.

The features come from the pipeline itself: the job runs once into `data/bench/sample.duckdb`
(later runs find nothing changed). Then, in one process:

- octorec: `recommend` as the `user_project_similarities` asset calls it (exact mode: blocks
  computing only the weighted components, in-place exclusions, one partial sort, the other
  components for the kept pairs only), item-item model fit included;
- reference: the plain formula, every component as a full users × projects matrix
  (`Scorer.components` → `Scorer.total` → `Scorer.excluded` → `top_ranked`), same model fit;

each the median of 5 runs after a warm-up. Also reported: ANN mode on the same data. Prints JSON.

    python bench/scoring_sample.py [--snapshot ../shared/data/github-sample]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from machine import describe_machine
from octorec.scoring.inputs import load_features
from octorec.scoring.ranking import top_ranked
from octorec.scoring.recommend import recommend
from octorec.scoring.scorer import Scorer
from octorec.settings import Retrieval, load_settings
from octorec.warehouse import open_warehouse
from sample_database import DATABASE, SAMPLE, bring_up_to_date

REPEATS = 5


def _median_seconds(action) -> float:  # type: ignore[no-untyped-def]
    action()
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, default=SAMPLE)
    args = parser.parse_args()
    os.environ.update(bring_up_to_date(args.snapshot))
    settings = load_settings()
    with open_warehouse(DATABASE, read_only=True) as warehouse:
        users, projects = load_features(warehouse, settings)
    cold = settings.content_weights.as_scoring_weights()

    def octorec(retrieval: Retrieval = Retrieval.EXACT) -> None:
        recommend(
            users,
            projects,
            settings.weights,
            settings.top_n,
            settings.min_similarity,
            scorer_settings=settings.scorer.model_copy(update={"retrieval": retrieval}),
            cold_start_weights=cold,
        )

    def reference() -> None:
        scorer = Scorer(users, projects, settings.scorer)
        count = len(users.logins)
        total = scorer.total(scorer.components(0, count), settings.weights, 0, count, cold)
        top_ranked(total, scorer.excluded(0, count), settings.top_n)

    exact = _median_seconds(octorec)
    plain = _median_seconds(reference)
    ann = _median_seconds(lambda: octorec(Retrieval.ANN))
    print(
        json.dumps(
            {
                "benchmark": "scoring_sample",
                "users": len(users.logins),
                "projects": len(projects.names),
                "octorec_exact_seconds": round(exact, 3),
                "octorec_ann_seconds": round(ann, 3),
                "reference_seconds": round(plain, 3),
                "reference": "every component as a full users × projects matrix, then top-N",
                "ratio": round(plain / exact, 2),
                "target_under_1_s": exact < 1.0,
                "machine": describe_machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

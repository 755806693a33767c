"""Quality ablations: the default scorer against itself with one choice undone at a time.

One seeded hold-out split of a snapshot (default: the sample, hold-out 0.2, seed 42) is rebuilt
with the pipeline's own steps (as `octorec evaluate` does; its embedding cache is reused), then
each variant re-scores the test users: the defaults, each weight set to 0, the semantic term as
the cosine to the mean vector, no collaborative confidence, another EASE λ, a recency filter, and
the original formula as the reference. Prints JSON with recall@10 and NDCG@10 per variant and
their ratio to the reference.

    python bench/quality_ablations.py [--snapshot DIR] [--seed 42]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from machine import describe_machine
from octorec.evaluation.models import semantic_scores, weighted_total
from octorec.evaluation.pipeline import EvaluationWarehouse
from octorec.evaluation.run import _pairs, read_snapshot
from octorec.evaluation.split import holdout_split
from octorec.evaluation.tuning import RelevanceTarget
from octorec.scoring.candidates import candidate_masks
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.scorer import Scorer
from octorec.settings import ORIGIN_WEIGHTS, ScoringWeights, Settings, load_settings
from octorec.warehouse import open_warehouse

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "github-sample"
K = 10


def _measure(
    users: UserFeatures,
    projects: ProjectFeatures,
    settings: Settings,
    held_out: dict[int, list[str]],
    weights: ScoringWeights | None = None,
    semantic_override: bool = False,
    eligible: np.ndarray | None = None,
) -> dict[str, float]:
    if eligible is not None:
        projects = replace(projects, eligible=eligible)
    scorer = Scorer(users, projects, settings.scorer)
    components = scorer.components(0, len(users.logins))
    if semantic_override:
        components["semantic"] = semantic_scores(scorer, clip=True)
    scores = weighted_total(scorer, components, weights or settings.weights)
    excluded = scorer.excluded(0, len(users.logins)) | (scores < settings.min_similarity)
    target = RelevanceTarget.build(held_out, projects.names, excluded)
    recall, ndcg = target.recall_and_ndcg(scores[target.rows], K)
    return {f"recall@{K}": round(recall, 4), f"ndcg@{K}": round(ndcg, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshot", type=Path, default=SAMPLE)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--holdout", type=float, default=0.2)
    args = parser.parse_args()
    settings = load_settings()
    users_file = args.snapshot / "users.csv"
    data = read_snapshot(
        args.snapshot / "repos.csv",
        args.snapshot / "user_stars.csv",
        users_file if users_file.exists() else None,
    )
    interactions = [(i.user_login.lower(), i.repo_full_name.lower()) for i in data.interactions]
    split = holdout_split(interactions, args.holdout, args.seed)
    scratch = EvaluationWarehouse(data, settings, settings.evaluation_database)
    scratch.prepare_projects()
    users, projects = scratch.features_for(_pairs(split.train))
    row_of = {login.lower(): i for i, login in enumerate(users.logins)}
    held_out = {row_of[u]: items for u, items in split.test.items() if u in row_of}
    with open_warehouse(settings.evaluation_database, read_only=True) as warehouse:
        attributes = warehouse.query(
            "SELECT full_name, language, is_fork, is_archived, pushed_at "
            "FROM dbt_project_enriched_data"
        ).sort_by("full_name")
    if attributes.column("full_name").to_pylist() != list(projects.names):
        raise SystemExit("project attributes and features are not aligned; rebuild the evaluation")

    def weights_without(name: str) -> ScoringWeights:
        return settings.weights.model_copy(update={name: 0.0})

    def scorer_with(**changes: Any) -> Settings:
        return settings.model_copy(update={"scorer": settings.scorer.model_copy(update=changes)})

    recent = candidate_masks(
        attributes.column("language").to_pylist(),
        attributes.column("is_fork").to_pylist(),
        attributes.column("is_archived").to_pylist(),
        attributes.column("pushed_at").to_pylist(),
        settings.filters.model_copy(update={"max_months_since_push": 24}),
    ).eligible
    variants: dict[str, dict[str, float]] = {
        "origin (reference)": _measure(
            users,
            projects,
            settings,
            held_out,
            ScoringWeights.model_validate(ORIGIN_WEIGHTS),
            semantic_override=True,
        ),
        "defaults": _measure(users, projects, settings, held_out),
    }
    for name in ("semantic", "tech_stack", "collaborative"):
        if getattr(settings.weights, name) > 0:
            variants[f"{name} weight 0"] = _measure(
                users, projects, settings, held_out, weights_without(name)
            )
    variants["semantic = cosine to the mean vector"] = _measure(
        users, projects, settings, held_out, semantic_override=True
    )
    variants["no collaborative confidence (β 0)"] = _measure(
        users, projects, scorer_with(collaborative_shrinkage=0.0), held_out
    )
    variants["EASE λ 10"] = _measure(
        users, projects, scorer_with(collaborative_regularization=10.0), held_out
    )
    variants["only projects pushed in the last 24 months"] = _measure(
        users, projects, settings, held_out, eligible=recent
    )
    reference = variants["origin (reference)"]
    print(
        json.dumps(
            {
                "benchmark": "quality_ablations",
                "split": {"holdout": args.holdout, "seed": args.seed, "users": len(held_out)},
                "weights": settings.weights.model_dump(),
                "variants": {
                    name: {
                        **metrics,
                        "over_reference": {
                            m: round(v / reference[m], 2) if reference[m] else None
                            for m, v in metrics.items()
                        },
                    }
                    for name, metrics in variants.items()
                },
                "machine": describe_machine(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Assets of the `ml_similarities` group: scoring users against projects and storing the best.

`user_project_similarities` is a module-level function (call it directly with a context from
`dg.build_asset_context()` and an `OctorecResource`); `_asset` makes it an asset for a shard
count.
"""

from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from octorec import constants as c
from octorec.defs.checks import check_result, failed_blocking, recommendation_check_specs
from octorec.defs.metadata import histogram_markdown, markdown_table
from octorec.defs.partitions import RETRY_POLICY, every_shard_of, shard_of_run, shard_partitions
from octorec.defs.resources import OctorecResource
from octorec.scoring.checks import COVERAGE_HELD, recommendation_checks
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.store import (
    EmptyResultError,
    SimilaritySummary,
    publish,
    refuse_empty_result,
    score_all,
    score_shard_and_stage,
)
from octorec.settings import Settings
from octorec.sharding import configured_shards

GROUP = "ml_similarities"
SAMPLE_ROWS = 15
SCORE_EDGES = [i / 10 for i in range(11)]
SHARDS_CHECK = "all_shards_published"


def user_project_similarities(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """Scores every user against every project, keeps the top N above the threshold,
    stores them.

    Each row keeps its five components, the weights, the categories and tech stack that
    matched, the user's most similar known project and a one-line reason, so every
    recommendation can be explained. The previous result is replaced in one transaction.
    Partitioned by user shard (`OCTOREC_SHARDS`), each partition scores its users and
    stages their rows; the shard that completes a generation publishes the whole table.
    """
    if context.has_partition_key:
        return _score_shard(context, octorec, *shard_of_run(context))
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        summary = score_all(warehouse, settings, context.run_id)
        # Everything the step reports and checks comes before the table is replaced: a step
        # that fails never publishes.
        metadata = _metadata(summary, settings)
        outcomes = recommendation_checks(
            summary.table,
            summary.known if summary.known is not None else _NO_PAIRS,
            top_n=settings.top_n,
            min_similarity=settings.min_similarity,
            users=summary.users,
            previous=_previous_coverage(context),
        )
        failed = failed_blocking(outcomes)
        if failed:
            raise dg.Failure(
                description="kept the stored recommendations: "
                + "; ".join(f"check {o.name} failed: {o.description}" for o in failed),
                metadata={o.name: o.description for o in failed},
                allow_retries=False,
            )
        try:
            warning = refuse_empty_result(warehouse, summary, allowed=settings.allow_empty_results)
        except EmptyResultError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        if warning:
            context.log.warning(warning)
        publish(warehouse, summary.table)
    context.log.info(
        f"{summary.recommendations} recommendations for "
        f"{summary.users_with_recommendations} of {summary.users} users over "
        f"{summary.projects} projects in {summary.seconds:.2f} s"
    )
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[check_result(o, warn=o.name == COVERAGE_HELD) for o in outcomes],
    )


_NO_PAIRS = pa.table(
    {"user_login": pa.array([], pa.string()), "project_full_name": pa.array([], pa.string())}
)


def _previous_coverage(context: dg.AssetExecutionContext) -> tuple[int, int] | None:
    """Users and users with recommendations of the last materialisation, if one is recorded."""
    entry = context.instance.get_latest_materialization_event(
        dg.AssetKey(c.USER_PROJECT_SIMILARITIES)
    )
    materialization = entry.asset_materialization if entry is not None else None
    if materialization is None:
        return None
    metadata = materialization.metadata
    users = getattr(metadata.get("users"), "value", None)
    with_recs = getattr(metadata.get("users_with_recommendations"), "value", None)
    if not isinstance(users, int) or not isinstance(with_recs, int):
        return None
    return users, with_recs


def _asset(shards: int) -> dg.AssetsDefinition:
    """The scoring asset; with `shards` above 1, partitioned by user shard, with a check that
    every shard of the newest generation is in."""
    partitions = shard_partitions(shards)
    return dg.asset(
        name=c.USER_PROJECT_SIMILARITIES,
        group_name=GROUP,
        deps=[
            c.DBT_USER_PROJECT_SIMILARITIES,
            every_shard_of(c.PROJECT_HYBRID_EMBEDDINGS, shards),
            c.RECOMMENDATION_MODEL,
        ],
        kinds={"numpy", "duckdb"},
        partitions_def=partitions,
        check_specs=recommendation_check_specs()
        if not partitions
        else [
            dg.AssetCheckSpec(
                SHARDS_CHECK,
                asset=c.USER_PROJECT_SIMILARITIES,
                description=(
                    "every shard of the newest generation is in, and the table holds them "
                    "(warns while a backfill is under way, and after one whose inputs changed "
                    "half-way, naming the shards still missing)"
                ),
            )
        ],
        retry_policy=RETRY_POLICY if partitions else None,
    )(user_project_similarities)


def _score_shard(
    context: dg.AssetExecutionContext, octorec: OctorecResource, shard: int, shards: int
) -> dg.MaterializeResult:
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        done = score_shard_and_stage(warehouse, settings, context.run_id, shard, shards)
    summary = done.scored
    if not done.outcome.published:
        context.log.warning(
            f"user_project_similarities still holds the previous result: shards "
            f"{list(done.outcome.missing)} of generation {done.generation[:12]} are not in yet "
            "(run them, or the whole backfill if the inputs changed since)"
        )
    context.log.info(
        f"shard {shard} of {done.shards}: {summary.recommendations} recommendations for "
        f"{summary.users_with_recommendations} of {summary.users} users in "
        f"{summary.seconds:.2f} s; {done.outcome.shards_done} of {done.shards} shards done"
        + ("; published user_project_similarities" if done.outcome.published else "")
    )
    missing = list(done.outcome.missing)
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=SHARDS_CHECK,
                passed=done.outcome.published,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"shards_missing": missing, "generation": done.generation},
            )
        ],
        metadata={
            **_metadata(summary, settings),
            "shard": shard,
            "shards": done.shards,
            "shards_done": done.outcome.shards_done,
            "shards_missing": list(done.outcome.missing),
            "published": done.outcome.published,
            "generation": done.generation,
        },
    )


def _metadata(summary: SimilaritySummary, settings: Settings) -> dict[str, Any]:
    table = summary.table
    scores = table.column("score").to_pylist()
    sample = table.slice(0, SAMPLE_ROWS).to_pylist()
    return {
        "dagster/row_count": summary.recommendations,
        "score_distribution": dg.MetadataValue.md(histogram_markdown(scores, SCORE_EDGES)),
        "coverage": dg.MetadataValue.md(_coverage(summary, settings.top_n)),
        "users": summary.users,
        "users_with_recommendations": summary.users_with_recommendations,
        "projects": summary.projects,
        "mean_score": round(sum(scores) / len(scores), 4) if scores else 0.0,
        "weights": settings.weights.model_dump(),
        "content_weights": settings.content_weights.model_dump(),
        "scorer": settings.scorer.model_dump(),
        "top_n": settings.top_n,
        "min_similarity": settings.min_similarity,
        "seconds": round(summary.seconds, 3),
        "sample": dg.MetadataValue.md(
            markdown_table(
                [
                    "user",
                    "rank",
                    "project",
                    "score",
                    "semantic",
                    "category",
                    "tech",
                    "pop",
                    "collab",
                    "reason",
                ],
                [
                    [
                        r["user_login"],
                        r["rank"],
                        r["project_full_name"],
                        r["score"],
                        r["semantic_similarity"],
                        r["category_similarity"],
                        r["tech_stack_similarity"],
                        r["popularity_similarity"],
                        r["collaborative_similarity"],
                        r["reason"],
                    ]
                    for r in sample
                ],
            )
        ),
    }


def _coverage(summary: SimilaritySummary, top_n: int) -> str:
    """Who got recommendations, how much of the catalogue they reach, the mean components."""
    table = summary.table
    per_user = pc.value_counts(table.column("user_login")).field("counts")
    full = int(pc.sum(pc.equal(per_user, top_n)).as_py() or 0)
    counts = [
        ("users with recommendations", summary.users_with_recommendations, summary.users),
        (f"users with a full top {top_n}", full, summary.users),
        (
            "distinct projects recommended",
            len(pc.unique(table.column("project_full_name"))),
            summary.projects,
        ),
    ]
    rows: list[list[object]] = [
        [name, f"{count} of {of}", f"{100 * count / of:.1f}%" if of else "-"]
        for name, count, of in counts
    ]
    for name in COMPONENTS:
        mean = pc.mean(table.column(f"{name}_similarity")).as_py() or 0.0
        rows.append([f"mean {name} component (unweighted)", f"{mean:.3f}", ""])
    return markdown_table(["", "value", "share"], rows)


def defs() -> dg.Definitions:
    """The scoring asset, partitioned by user shard when `OCTOREC_SHARDS` is above 1."""
    return dg.Definitions(assets=[_asset(configured_shards())])

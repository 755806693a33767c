"""The jobs: the whole pipeline; with shards, its unsharded start and the sharded stages' jobs.

A sharded pipeline mixes partitioned and unpartitioned assets, which one job cannot run in
order; the whole of it runs as one Dagster asset backfill (docs/scale-out.md), and these jobs
run its parts: `training_data_pipeline` everything upstream of the shards,
`embed_project_shards` and `score_user_shards` one shard per run (`dagster job backfill`).
"""

from typing import Any

import dagster as dg

from octorec import constants as c
from octorec.sharding import configured_shards

PIPELINE_GROUPS = ("github_data", "ml_preparation", "ml_embeddings", "ml_similarities")
PIPELINE_JOB = "training_data_pipeline"
SHARDS_JOB = "score_user_shards"
PROJECT_SHARDS_JOB = "embed_project_shards"
SHARDED_ASSETS = (
    c.PROJECT_SEMANTIC_EMBEDDINGS,
    c.PROJECT_HYBRID_EMBEDDINGS,
    c.USER_EMBEDDINGS,
    c.USER_PROJECT_SIMILARITIES,
)
"""Partitioned by shard when `OCTOREC_SHARDS` is above 1."""

# The console shows progress (INFO) rather than every engine event; the event log in the UI
# keeps everything.
_CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def training_data_pipeline(
    shards: int = 1,
) -> Any:  # what `define_asset_job` returns; Dagster does not export its type
    """Every asset of the pipeline groups; with shards, those upstream of every sharded one."""
    selection: dg.AssetSelection = dg.AssetSelection.groups(*PIPELINE_GROUPS)
    if shards > 1:
        selection = selection - dg.AssetSelection.assets(*SHARDED_ASSETS).downstream()
    return dg.define_asset_job(
        name=PIPELINE_JOB,
        selection=selection,
        description=(
            "GitHub data → dbt preparation → project and user embeddings → user↔project "
            "similarities, on the configured source and warehouse."
            + (
                f" Sharded ({shards}): this job runs the stages before the shards; the whole "
                "pipeline runs as an asset backfill of every partition."
                if shards > 1
                else ""
            )
        ),
        # The stages form one chain over one embedded database file: running them in one
        # process loads the model once and never contends for the DuckDB file lock.
        executor_def=dg.in_process_executor,
        config=_CONSOLE_INFO,
    )


def score_user_shards() -> Any:  # what `define_asset_job` returns; Dagster does not export its type
    """One run per user shard (`dagster job backfill -j score_user_shards --all`); the shards
    write to the shared PostgreSQL store side by side and the last one publishes the table."""
    return dg.define_asset_job(
        name=SHARDS_JOB,
        selection=dg.AssetSelection.assets(c.USER_PROJECT_SIMILARITIES),
        description="Scores one user shard of user_project_similarities per run.",
        executor_def=dg.multiprocess_executor,
        config=_CONSOLE_INFO,
    )


def embed_project_shards() -> Any:  # what `define_asset_job` returns
    """One run per project shard: its semantic, then its hybrid vectors."""
    return dg.define_asset_job(
        name=PROJECT_SHARDS_JOB,
        selection=dg.AssetSelection.assets(
            c.PROJECT_SEMANTIC_EMBEDDINGS, c.PROJECT_HYBRID_EMBEDDINGS
        ),
        description="Embeds one project shard (semantic, then hybrid vectors) per run.",
        executor_def=dg.multiprocess_executor,
        config=_CONSOLE_INFO,
    )


def defs() -> dg.Definitions:
    """The pipeline job, and the shard jobs when `OCTOREC_SHARDS` is above 1."""
    shards = configured_shards()
    jobs = [training_data_pipeline(shards)]
    if shards > 1:
        jobs.extend([embed_project_shards(), score_user_shards()])
    return dg.Definitions(jobs=jobs)

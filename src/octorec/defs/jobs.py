"""The jobs: the whole pipeline, and with user shards, the job that scores them."""

from typing import Any

import dagster as dg

from octorec import constants as c
from octorec.sharding import configured_shards

PIPELINE_GROUPS = ("github_data", "ml_preparation", "ml_embeddings", "ml_similarities")
PIPELINE_JOB = "training_data_pipeline"
SHARDS_JOB = "score_user_shards"

# The console shows progress (INFO) rather than every engine event; the event log in the UI
# keeps everything.
_CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def training_data_pipeline(
    shards: int = 1,
) -> Any:  # what `define_asset_job` returns; Dagster does not export its type
    """Every asset of the pipeline groups; with user shards, all but the sharded scoring."""
    selection: dg.AssetSelection = dg.AssetSelection.groups(*PIPELINE_GROUPS)
    if shards > 1:
        selection = selection - dg.AssetSelection.assets(c.USER_PROJECT_SIMILARITIES)
    return dg.define_asset_job(
        name=PIPELINE_JOB,
        selection=selection,
        description=(
            "GitHub data → dbt preparation → project and user embeddings → user↔project "
            "similarities, on the configured source and warehouse."
            + (f" The similarities are scored by `{SHARDS_JOB}`." if shards > 1 else "")
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


def defs() -> dg.Definitions:
    """The pipeline job, and the shard job when `OCTOREC_SHARDS` is above 1."""
    shards = configured_shards()
    jobs = [training_data_pipeline(shards)]
    if shards > 1:
        jobs.append(score_user_shards())
    return dg.Definitions(jobs=jobs)

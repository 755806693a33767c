"""The job that runs the whole pipeline."""

import dagster as dg

PIPELINE_GROUPS = ("github_data", "ml_preparation", "ml_embeddings", "ml_similarities")

training_data_pipeline = dg.define_asset_job(
    name="training_data_pipeline",
    selection=dg.AssetSelection.groups(*PIPELINE_GROUPS),
    description=(
        "GitHub data → dbt preparation → project and user embeddings → user↔project "
        "similarities, on the configured source and warehouse."
    ),
    # The stages form one chain over one embedded database file: running them in one process
    # loads the model once and never contends for the DuckDB file lock.
    executor_def=dg.in_process_executor,
    # The console shows progress (INFO) rather than every engine event; the event log in the UI
    # keeps everything.
    config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
)


def defs() -> dg.Definitions:
    """The pipeline job."""
    return dg.Definitions(jobs=[training_data_pipeline])

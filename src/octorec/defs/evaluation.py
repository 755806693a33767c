"""The `ml_evaluation` group: offline evaluation of the recommender against baselines.

It is not part of `training_data_pipeline`: it rebuilds features from a hold-out split in its own
scratch database (`OCTOREC_EVALUATION_DATABASE`), so it never touches the served results.
"""

import json

import dagster as dg

from octorec.defs.metadata import markdown_table
from octorec.defs.resources import OctorecResource
from octorec.evaluation.run import evaluate, read_snapshot
from octorec.sources.snapshot import REPOS_FILE, STARS_FILE, USERS_FILE

GROUP = "ml_evaluation"


@dg.asset(group_name=GROUP, kinds={"numpy", "dbt", "duckdb"})
def recommendation_evaluation(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """Holds out 20% of each user's stars in the snapshot (seed 42), rebuilds with the pipeline
    and compares octorec with the origin formula, popularity, semantic, ALS and item-kNN.

    Metadata: the headline metrics per model, the whole table, a bar chart and the setup
    (weights, fitted weights, baseline settings).
    """
    settings = octorec.settings()
    directory = settings.snapshot_dir
    users_file = directory / USERS_FILE
    data = read_snapshot(
        directory / REPOS_FILE,
        directory / STARS_FILE,
        users_file if users_file.exists() else None,
    )
    report = evaluate(data, settings, on_phase=context.log.info)
    metrics = list(next(iter(report.models.values())))
    headline = {
        f"{model}/{metric}": dg.MetadataValue.float(round(values[metric], 4))
        for model, values in report.models.items()
        for metric in report.headline()
    }
    return dg.MaterializeResult(
        metadata={
            **headline,
            "dataset": report.dataset,
            "setup": report.setup,
            "metrics": dg.MetadataValue.md(
                markdown_table(
                    ["model", *metrics],
                    [
                        [model, *(round(values[m], 4) for m in metrics)]
                        for model, values in report.models.items()
                    ],
                )
            ),
            "plot": dg.MetadataValue.md(f"```\n{report.bar_chart()}\n```"),
            "report": dg.MetadataValue.json(json.loads(json.dumps(report.to_json()))),
        }
    )


def defs() -> dg.Definitions:
    """The evaluation asset."""
    return dg.Definitions(assets=[recommendation_evaluation])

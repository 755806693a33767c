"""The `recommendation_model` asset: the ranker learned from this deployment's own interactions.

It runs after the users are prepared and before `user_project_similarities`, which ranks with
the model it stored (or with the formula's weights when it stored a fallback: too little data
to fit, `RANKER_ENABLED=0`, or a formula that beat the ranker on validation). Its inputs'
fingerprint (users, catalogue, vectors, the settings the fit reads) is recorded: unchanged
inputs keep the stored model without refitting (the fit is deterministic, it would give the same
model), unless the run is forced.
"""

import hashlib
import json
from typing import Any

import dagster as dg

from octorec import constants as c
from octorec.defs.metadata import markdown_table
from octorec.defs.partitions import every_shard_of
from octorec.defs.resources import OctorecResource
from octorec.defs.similarities import GROUP
from octorec.ranker.pipeline import FittedRun, fit_model, store_model
from octorec.settings import Settings
from octorec.sharding import configured_shards
from octorec.warehouse import Warehouse
from octorec.warehouse.fingerprints import (
    combined_fingerprint,
    forget_step,
    last_success,
    record_fingerprint,
    table_fingerprint,
)
from octorec.warehouse.ranking_models import StoredModel, latest_model

STEP = c.RECOMMENDATION_MODEL
BAR_WIDTH = 24
METRICS = ("recall@10", "ndcg@10")


def fit_settings_fingerprint(settings: Settings) -> str:
    """The settings the fit reads, hashed."""
    relevant = settings.model_dump(
        mode="json",
        include={"ranker", "scorer", "weights", "content_weights", "user_profile_weight"},
    )
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def inputs_fingerprint(warehouse: Warehouse, settings: Settings) -> str:
    """What the fit reads: the users' rows, the catalogue and its vectors, the settings."""
    return combined_fingerprint(
        [
            table_fingerprint(warehouse, c.DBT_USER_EMBEDDINGS_DATA),
            table_fingerprint(warehouse, c.DBT_PROJECT_ENRICHED_DATA),
            table_fingerprint(warehouse, c.PROJECT_SEMANTIC_EMBEDDINGS),
            fit_settings_fingerprint(settings),
        ]
    )


def recommendation_model(
    context: dg.AssetExecutionContext, octorec: OctorecResource
) -> dg.MaterializeResult:
    """Learns how to rank from the deployment's own stars and stores the model.

    Seeded validation hold-outs are carved out of the current stars; candidates from each
    signal and their pair features train LightGBM's listwise `rank_xendcg`; EASE's λ and
    the ranker's hyper-parameters are chosen by cross-validation over the hold-outs. The model
    is stored with its version, training data fingerprint, settings and validation metrics
    against the formula, popularity and EASE.
    Too little data stores a fallback: scoring then uses the documented default weights.
    """
    settings = octorec.settings()
    with octorec.warehouse() as warehouse:
        fingerprint = inputs_fingerprint(warehouse, settings)
        previous = last_success(warehouse, STEP)
        stored = latest_model(warehouse)
        if (
            previous is not None
            and previous.fingerprint == fingerprint
            and stored is not None
            and not settings.force
        ):
            context.log.info(
                f"inputs unchanged since run {previous.run_id}: kept model {stored.version}"
            )
            return dg.MaterializeResult(
                metadata={**_metadata(stored), "unchanged_since_run": previous.run_id}
            )
        forget_step(warehouse, STEP)
        fitted = fit_model(warehouse, settings, octorec.encoder(), context.run_id)
        # Everything reported is computed before the model is stored: a step that fails
        # never replaces the model in use.
        metadata = {**_metadata(fitted.stored), **_counts(fitted)}
        store_model(warehouse, fitted)
        record_fingerprint(warehouse, STEP, fingerprint, context.run_id)
    if fitted.stored.is_fallback:
        context.log.warning(f"no ranking model: {fitted.stored.reason}")
    else:
        context.log.info(
            f"ranking model {fitted.stored.version} fitted on {fitted.users} users × "
            f"{fitted.projects} projects in {fitted.stored.fit_seconds:.1f} s: "
            f"{fitted.stored.reason}"
        )
    return dg.MaterializeResult(metadata=metadata)


def _counts(fitted: FittedRun) -> dict[str, Any]:
    return {"users": fitted.users, "projects": fitted.projects}


def _metadata(stored: StoredModel) -> dict[str, Any]:
    metrics = stored.metrics
    metadata: dict[str, Any] = {
        "model_version": stored.version,
        "kind": stored.kind,
        "fallback": stored.is_fallback,
        "reason": stored.reason,
        "training_fingerprint": stored.training_fingerprint,
        "fit_seconds": stored.fit_seconds,
        "settings": dg.MetadataValue.json(stored.settings),
    }
    if metrics:
        metadata["validation_metrics"] = dg.MetadataValue.json(metrics)
        metadata["validation_plot"] = dg.MetadataValue.md(validation_plot(metrics))
        for model, values in metrics.items():
            for name in METRICS:
                if name in values:
                    metadata[f"validation_{model}_{name}"] = round(float(values[name]), 4)
    return metadata


def validation_plot(metrics: dict[str, dict[str, float]]) -> str:
    """Each model's validation metrics as a Markdown table with a text bar per value."""
    rows: list[list[Any]] = []
    for name in METRICS:
        peak = max((float(v.get(name, 0.0)) for v in metrics.values()), default=0.0) or 1.0
        for model, values in sorted(metrics.items(), key=lambda kv: -kv[1].get(name, 0.0)):
            value = float(values.get(name, 0.0))
            rows.append([name, model, f"{value:.4f}", "█" * round(BAR_WIDTH * value / peak)])
    return markdown_table(["metric", "model", "validation", ""], rows)


def defs() -> dg.Definitions:
    """The model asset, upstream of the scoring asset."""
    return dg.Definitions(
        assets=[
            dg.asset(
                name=c.RECOMMENDATION_MODEL,
                group_name=GROUP,
                deps=[
                    c.DBT_USER_PROJECT_SIMILARITIES,
                    every_shard_of(c.PROJECT_SEMANTIC_EMBEDDINGS, configured_shards()),
                ],
                kinds={"lightgbm", "duckdb"},
                description=recommendation_model.__doc__,
            )(recommendation_model)
        ]
    )

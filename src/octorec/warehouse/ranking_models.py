"""The ranking models `recommendation_model` fitted, one row per run, in `recommendation_models`.

Each row is either a fitted model (`kind` names it; `model` holds its serialised form) or a
fallback (`model` is NULL: too little data to fit, scoring uses the default weights, `reason`
says why). Scoring reads the newest row; older rows stay as the history of what was fitted on
what, with which settings and validation metrics. A run that fails writes no row, so the model
scoring uses is always the last one that was fitted completely.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from octorec import constants as c
from octorec.warehouse.base import Warehouse

FALLBACK = "formula"
"""The `kind` of a row without a model: scoring uses the documented default weights."""


@dataclass(frozen=True)
class StoredModel:
    """One row of `recommendation_models`."""

    run_id: str
    version: str
    kind: str
    training_fingerprint: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    model: str | None
    reason: str
    fit_seconds: float
    fitted_at: datetime

    @property
    def is_fallback(self) -> bool:
        """Whether this row holds no model (scoring uses the default weights)."""
        return self.model is None


def save_model(warehouse: Warehouse, stored: StoredModel) -> None:
    """Store `stored` (replacing a row of the same run, so a retried run stores one row)."""
    warehouse.upsert(
        c.RECOMMENDATION_MODELS,
        pa.table(
            {
                "run_id": [stored.run_id],
                "version": [stored.version],
                "kind": [stored.kind],
                "training_fingerprint": [stored.training_fingerprint],
                "settings": [json.dumps(stored.settings, sort_keys=True)],
                "metrics": [json.dumps(stored.metrics, sort_keys=True)],
                "model": pa.array([stored.model], pa.string()),
                "reason": [stored.reason],
                "fit_seconds": pa.array([stored.fit_seconds], pa.float64()),
                "fitted_at": pa.array([stored.fitted_at], pa.timestamp("us", tz="UTC")),
            }
        ),
        ["run_id"],
    )


def latest_model(warehouse: Warehouse) -> StoredModel | None:
    """The newest stored row, or None when no model was ever fitted in this warehouse."""
    rows = warehouse.query(
        "SELECT run_id, version, kind, training_fingerprint, settings, metrics, model, reason, "
        f"fit_seconds, fitted_at FROM {c.RECOMMENDATION_MODELS} "
        "ORDER BY fitted_at DESC, run_id DESC LIMIT 1"
    ).to_pylist()
    if not rows:
        return None
    row = rows[0]
    fitted_at = row["fitted_at"]
    if fitted_at.tzinfo is None:
        fitted_at = fitted_at.replace(tzinfo=UTC)
    return StoredModel(
        run_id=row["run_id"],
        version=row["version"],
        kind=row["kind"],
        training_fingerprint=row["training_fingerprint"],
        settings=json.loads(row["settings"]),
        metrics=json.loads(row["metrics"]),
        model=row["model"],
        reason=row["reason"],
        fit_seconds=float(row["fit_seconds"]),
        fitted_at=fitted_at,
    )

"""The fitted ranker as one storable object: `RankingModel`, JSON in and out.

It holds LightGBM's model text (the model itself), the feature names it was fitted on, a version
(a hash of the model text), the fingerprint of the training data, the settings it was fitted with
(among them the collaborative λ the scorer must use), its validation metrics against the
baselines, its fit time and the calibration that maps its raw score to a probability.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import lightgbm as lgb
import numpy as np

from octorec.ranker.features import FEATURE_NAMES

FORMAT = 1
"""The JSON layout's version (`to_json`)."""


@dataclass(frozen=True)
class Calibration:
    """Platt scaling: `P(held-out star) = 1 / (1 + exp(-(slope · raw + intercept)))`, fitted on
    the validation fold's candidates."""

    slope: float
    intercept: float

    def probability(self, raw: np.ndarray) -> np.ndarray:
        """The calibrated chance, in [0, 1], of each raw score."""
        z = self.slope * np.asarray(raw, dtype=np.float64) + self.intercept
        return (1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))).astype(np.float32)


def fit_calibration(raw: np.ndarray, labels: np.ndarray, iterations: int = 100) -> Calibration:
    """Platt's two parameters by damped Newton steps on the log loss (with Platt's smoothed
    targets, so a separable fold does not diverge), on standardised scores; deterministic."""
    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    centre, spread = float(x.mean()) if len(x) else 0.0, float(x.std()) if len(x) else 1.0
    spread = spread if spread > 0 else 1.0
    z = (x - centre) / spread
    positives, negatives = float(y.sum()), float(len(y) - y.sum())
    target = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        margin = a * z + b
        return float(np.sum(np.logaddexp(0.0, margin) - target * margin))

    a, b = 1.0, math.log((positives + 1) / (negatives + 1))
    current = loss(a, b)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * z + b, -500, 500)))
        w = p * (1 - p) + 1e-12
        gradient = np.array([np.dot(p - target, z), np.sum(p - target)])
        hessian = np.array([[np.dot(w * z, z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]])
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
        scale = 1.0
        while scale > 1e-6 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        previous, current = current, loss(a, b)
        if previous - current < 1e-12:
            break
    return Calibration(slope=float(a / spread), intercept=float(b - a * centre / spread))


def text_version(model_text: str) -> str:
    """The model's version: the first 16 hex digits of the SHA-256 of its text."""
    return hashlib.sha256(model_text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RankingModel:
    """A fitted learned ranker."""

    model_text: str
    """LightGBM's model text (`Booster.model_to_string`)."""
    calibration: Calibration
    collaborative_regularization: float
    """EASE's λ fitted on validation; the scorer's collaborative feature must use it."""
    candidates_per_signal: int
    training_fingerprint: str
    settings: dict[str, Any] = field(default_factory=dict)
    """Everything it was fitted with: ranker settings, LightGBM parameters, rounds, seed."""
    validation: dict[str, dict[str, float]] = field(default_factory=dict)
    """Validation recall/NDCG@10 of the ranker and the baselines (model → metric → value)."""
    fit_seconds: float = 0.0
    feature_names: tuple[str, ...] = FEATURE_NAMES

    def __post_init__(self) -> None:
        if tuple(self.feature_names) != FEATURE_NAMES:
            raise ValueError(
                f"the model was fitted on features {list(self.feature_names)}, this octorec "
                f"computes {list(FEATURE_NAMES)}: fit it again"
            )

    @property
    def version(self) -> str:
        """A hash of the model text: equal versions rank identically."""
        return text_version(self.model_text)

    @cached_property
    def booster(self) -> lgb.Booster:
        """The LightGBM model, loaded from its text once."""
        return lgb.Booster(model_str=self.model_text)

    def raw_scores(self, features: np.ndarray) -> np.ndarray:
        """The ranker's raw score of each row of pair features (higher ranks first)."""
        if len(features) == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.booster.predict(features, raw_score=True, num_threads=1))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """The calibrated chance, in [0, 1], that each pair is a star the user would make."""
        return self.calibration.probability(self.raw_scores(features))

    def contributions(self, features: np.ndarray) -> np.ndarray:
        """Each row's per-feature contributions to the raw score (pairs × features; LightGBM's
        `pred_contrib`, the bias column left out)."""
        if len(features) == 0:
            return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float64)
        values = np.asarray(self.booster.predict(features, pred_contrib=True, num_threads=1))
        return values[:, : len(FEATURE_NAMES)]

    def to_json(self) -> str:
        """The whole model as one JSON document (`from_json` reads it back)."""
        return json.dumps(
            {
                "format": FORMAT,
                "version": self.version,
                "feature_names": list(self.feature_names),
                "calibration": {
                    "slope": self.calibration.slope,
                    "intercept": self.calibration.intercept,
                },
                "collaborative_regularization": self.collaborative_regularization,
                "candidates_per_signal": self.candidates_per_signal,
                "training_fingerprint": self.training_fingerprint,
                "settings": self.settings,
                "validation": self.validation,
                "fit_seconds": self.fit_seconds,
                "model_text": self.model_text,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> RankingModel:
        """A model stored with `to_json`.

        Raises:
            ValueError: not such a document, another layout, or a model text that does not
                match its version.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"the ranking model is not JSON: {error}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"the ranking model is not in format {FORMAT}; fit it again")
        try:
            model = cls(
                model_text=data["model_text"],
                calibration=Calibration(**data["calibration"]),
                collaborative_regularization=float(data["collaborative_regularization"]),
                candidates_per_signal=int(data["candidates_per_signal"]),
                training_fingerprint=data["training_fingerprint"],
                settings=data["settings"],
                validation=data["validation"],
                fit_seconds=float(data["fit_seconds"]),
                feature_names=tuple(data["feature_names"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"the ranking model lacks or misnames a field: {error}") from None
        if model.version != data.get("version"):
            raise ValueError(
                f"the ranking model's text does not match its version {data.get('version')!r}"
            )
        return model

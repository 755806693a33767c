"""What an evaluation found: JSON for programs, a table and a bar chart for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BAR_WIDTH = 40
BASELINES = ("origin", "popularity", "semantic", "als", "item_knn")
"""The models octorec is compared with (`octorec_fitted` is octorec itself, refitted)."""
POPULARITY_TARGET = 2.0
BEST_BASELINE_TARGET = 1.2


@dataclass
class EvaluationReport:
    """Every model's metrics on one held-out split, and how the split and models were set up."""

    dataset: dict[str, int]
    k: list[int]
    models: dict[str, dict[str, float]]
    setup: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape: dataset, k, models (plus the setup that produced them)."""
        return {"dataset": self.dataset, "k": self.k, "models": self.models, "setup": self.setup}

    def headline(self) -> list[str]:
        """The metrics the targets are stated in, at the largest k."""
        k = max(self.k)
        return [f"recall@{k}", f"ndcg@{k}"]

    def table(self) -> str:
        """A fixed-width table: one row per model, one column per metric."""
        metrics = list(next(iter(self.models.values())))
        width = max(len(name) for name in self.models)
        lines = [f"{'model':<{width}}  " + "  ".join(f"{m:>12}" for m in metrics)]
        for name, values in self.models.items():
            lines.append(f"{name:<{width}}  " + "  ".join(f"{values[m]:>12.4f}" for m in metrics))
        return "\n".join(lines)

    def bar_chart(self) -> str:
        """The headline metrics as horizontal bars, one block per metric."""
        width = max(len(name) for name in self.models)
        blocks = []
        for metric in self.headline():
            top = max(values[metric] for values in self.models.values()) or 1.0
            lines = [metric]
            for name, values in self.models.items():
                bar = "█" * round(BAR_WIDTH * values[metric] / top)
                lines.append(f"{name:<{width}} {bar} {values[metric]:.4f}")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def ratios(self, model: str, baseline: str) -> dict[str, float]:
        """`model`'s headline metrics over `baseline`'s."""
        return {
            metric: (
                self.models[model][metric] / self.models[baseline][metric]
                if self.models[baseline][metric] > 0
                else float("inf")
            )
            for metric in self.headline()
        }

    def targets(self, model: str = "octorec") -> list[str]:
        """One line per headline metric: `model` over popularity (target ≥ 2) and over the best
        other baseline (target ≥ 1.2), and whether both hold."""
        lines = []
        for metric in self.headline():
            present = [b for b in BASELINES if b in self.models and b != "popularity"]
            best = max(present, key=lambda b: self.models[b][metric])
            over_popularity = self.ratios(model, "popularity")[metric]
            over_best = self.ratios(model, best)[metric]
            met = over_popularity >= POPULARITY_TARGET and over_best >= BEST_BASELINE_TARGET
            lines.append(
                f"{model} {metric}: ×{over_popularity:.2f} popularity (target ≥ "
                f"{POPULARITY_TARGET:g}), ×{over_best:.2f} the best other baseline, {best} "
                f"(target ≥ {BEST_BASELINE_TARGET:g}): {'met' if met else 'NOT met'}"
            )
        return lines

"""What an evaluation found: JSON for programs, a table and a bar chart for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BAR_WIDTH = 40
BASELINES = ("origin", "popularity", "semantic", "content_knn", "ease", "als", "item_knn")
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
    per_user: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Each model's per-user values of each metric (for a bootstrap; not in the JSON)."""

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


@dataclass
class MultiSeedReport:
    """One report per seed, and per model and metric the mean over seeds with a spread.

    The spread is a seeded percentile bootstrap over users (95%): each resample draws every
    seed's users with replacement and takes the mean over seeds of the resampled means.
    """

    reports: dict[int, EvaluationReport]
    resamples: int = 1000

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """model → metric → mean, low, high (the per-user metrics; the others: mean only)."""
        from octorec.evaluation.metrics import bootstrap_interval

        first = next(iter(self.reports.values()))
        result: dict[str, dict[str, dict[str, float]]] = {}
        for model, metrics in first.models.items():
            result[model] = {}
            for metric in metrics:
                values = [report.models[model][metric] for report in self.reports.values()]
                entry = {"mean": sum(values) / len(values)}
                if metric in first.per_user.get(model, {}):
                    low, high = bootstrap_interval(
                        [r.per_user[model][metric] for r in self.reports.values()],
                        seed=0,
                        resamples=self.resamples,
                    )
                    entry.update(low=low, high=high)
                result[model][metric] = entry
        return result

    def mean_report(self) -> EvaluationReport:
        """The means as a report, so the table and target lines read the same as one seed's."""
        first = next(iter(self.reports.values()))
        summary = self.summary()
        models = {m: {k: v["mean"] for k, v in metrics.items()} for m, metrics in summary.items()}
        return EvaluationReport(dataset=first.dataset, k=first.k, models=models)

    def table(self) -> str:
        """The headline metrics of every model: mean over seeds [95% bootstrap interval]."""
        summary = self.summary()
        headline = self.mean_report().headline()
        width = max(len(name) for name in summary)
        lines = [f"{'model':<{width}}  " + "  ".join(f"{m:>24}" for m in headline)]
        for name, metrics in summary.items():
            cells = [
                f"{metrics[m]['mean']:.4f} [{metrics[m]['low']:.4f}, {metrics[m]['high']:.4f}]"
                for m in headline
            ]
            lines.append(f"{name:<{width}}  " + "  ".join(f"{c:>24}" for c in cells))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """Each seed's report, and the summary (mean, 95% interval) per model and metric."""
        return {
            "seeds": {str(seed): report.to_json() for seed, report in self.reports.items()},
            "summary": self.summary(),
            "spread": f"95% percentile bootstrap over users, {self.resamples} resamples, seed 0",
        }

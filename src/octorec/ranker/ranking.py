"""Serving the learned ranker: `rank` a scorer's users with a `RankingModel`.

Each user's candidates (stage 1) get their pair features and the model's score (stage 2); the
stored score is the calibrated chance, in [0, 1], that the pair is a star the user would make
(Platt scaling fitted on the validation fold), so every score a person sees is on one scale.

`RECOMMENDATION_MIN_SIMILARITY` under the model is a floor on the candidate's *formula* score,
normalised by the sum of the weights (`Σ w·value / Σ w`, in [0, 1]; the content weights for users
who know nothing, the popularity of active projects for users without any signal): "above 0.1"
keeps the meaning it had, a pair whose evidence is too weak is not shown however the model ranks
it. The model only orders what passes.

Reasons: LightGBM's per-feature contributions (`pred_contrib`) are summed per score component
(`FEATURE_COMPONENTS`) and their positive parts fed to `octorec.scoring.explanations.reason`,
so the words are those the formula's reasons use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from octorec.ranker.features import (
    FEATURE_COMPONENTS,
    FEATURE_NAMES,
    PairBlock,
    PairCatalogue,
    PairFeaturizer,
)
from octorec.ranker.model import RankingModel
from octorec.ranker.statistics import CatalogueStats
from octorec.scoring.explanations import PairEvidence, pair_evidence, reason
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.results import Recommendations
from octorec.scoring.scorer import Scorer, Weights
from octorec.settings import ContentWeights, ScoringWeights


@dataclass(frozen=True)
class RankedRecommendations:
    """The ranker's kept pairs (`recommendations`, score = calibrated probability) with what
    explains them."""

    recommendations: Recommendations
    contributions: Mapping[str, np.ndarray]
    """Per kept pair, each score component's summed feature contributions to the raw score
    (may be negative: the feature argued against the pair)."""
    formula_score: np.ndarray
    """Per kept pair, the normalised formula score the floor `min_score` applies to."""
    raw_score: np.ndarray
    """Per kept pair, the model's raw score (before calibration)."""

    def __len__(self) -> int:
        return len(self.recommendations)

    def evidence(self, scorer: Scorer) -> PairEvidence:
        """What explains each kept pair (shared labels, the closest known project)."""
        result = self.recommendations
        return pair_evidence(
            scorer.users,
            scorer.projects,
            scorer.project_semantic,
            result.user_index,
            result.project_index,
        )

    def reasons(self, scorer: Scorer, evidence: PairEvidence | None = None) -> list[str]:
        """One reason per kept pair, in the formula's words, from the largest contributions
        (`evidence`: the pairs' `evidence`, when computed already)."""
        result = self.recommendations
        evidence = evidence if evidence is not None else self.evidence(scorer)
        without_signal = scorer.without_signal[result.user_index]
        projects = scorer.projects
        names = [None if j is None else projects.names[j] for j in evidence.similar]
        return [
            reason(
                {name: max(0.0, float(self.contributions[name][i])) for name in COMPONENTS},
                evidence.categories[i],
                evidence.tech_stack[i],
                names[i],
                bool(without_signal[i]),
            )
            for i in range(len(result))
        ]


def component_contributions(model: RankingModel, features: np.ndarray) -> dict[str, np.ndarray]:
    """Each score component's summed feature contributions per row of pair features."""
    values = model.contributions(features)
    result = {name: np.zeros(len(features), dtype=np.float64) for name in COMPONENTS}
    for column, feature in enumerate(FEATURE_NAMES):
        component = FEATURE_COMPONENTS[feature]
        if component is not None:
            result[component] += values[:, column]
    return result


def normalised_formula(
    scorer: Scorer,
    block: PairBlock,
    weights: Weights,
    cold_start_weights: Weights,
) -> np.ndarray:
    """Each pair's formula score over the sum of the weights, in [0, 1]."""

    def share(chosen: Weights) -> np.ndarray:
        values = COMPONENTS.weights(chosen)
        total = sum(values.values()) or 1.0
        return (
            sum(
                (values[name] * block.components[name] for name in COMPONENTS),
                start=np.zeros(len(block), dtype=np.float64),
            )
            / total
        )

    score = np.where(
        scorer.knows_nothing[block.user_index], share(cold_start_weights), share(weights)
    )
    return np.where(
        scorer.without_signal[block.user_index],
        scorer.popular_active[block.project_index],
        score,
    )


def rank(
    scorer: Scorer,
    model: RankingModel,
    stats: CatalogueStats,
    top_n: int,
    min_score: float,
    *,
    weights: Weights | None = None,
    cold_start_weights: Weights | None = None,
    catalogue: PairCatalogue | None = None,
) -> RankedRecommendations:
    """Each of the scorer's users' best `top_n` candidates by the model, among those whose
    normalised formula score (under `weights`, default the documented defaults; the content
    weights for users who know nothing) is at least `min_score`.

    The scorer must use the model's collaborative λ (`scorer_settings_for`); `stats` are the
    run's catalogue statistics (everyone's known projects, not only these users');
    `catalogue` their pair-feature side computed once (`PairCatalogue.of`), when kept.
    """
    if (
        scorer.item_item is not None
        and scorer.settings.collaborative_regularization != model.collaborative_regularization
    ):
        raise ValueError(
            f"the scorer's collaborative λ is {scorer.settings.collaborative_regularization:g}, "
            f"the model was fitted with {model.collaborative_regularization:g}: build the scorer "
            "with scorer_settings_for(model, ...)"
        )
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, not {top_n}")
    weights = weights if weights is not None else ScoringWeights()
    cold = cold_start_weights if cold_start_weights is not None else ContentWeights()
    parts: dict[str, list[np.ndarray]] = {
        key: [] for key in ("user", "project", "rank", "score", "formula", "raw", *COMPONENTS)
    }
    contributions: dict[str, list[np.ndarray]] = {name: [] for name in COMPONENTS}
    featurizer = PairFeaturizer(scorer, stats, model.candidates_per_signal, catalogue)
    for block in featurizer.blocks():
        formula = normalised_formula(scorer, block, weights, cold)
        passing = np.nonzero(formula >= min_score)[0]
        raw = model.raw_scores(block.features[passing])
        users = block.user_index[passing]
        projects = block.project_index[passing]
        order = np.lexsort((projects, -raw, users))
        users, projects = users[order], projects[order]
        starts = np.searchsorted(users, users, side="left")
        position = np.arange(len(users)) - starts
        keep = order[position < top_n]
        kept = passing[keep]
        parts["user"].append(block.user_index[kept])
        parts["project"].append(block.project_index[kept])
        parts["rank"].append((position[position < top_n] + 1).astype(np.int64))
        parts["raw"].append(raw[keep])
        parts["score"].append(model.calibration.probability(raw[keep]))
        parts["formula"].append(formula[kept].astype(np.float32))
        for name in COMPONENTS:
            parts[name].append(block.components[name][kept])
        for name, values in component_contributions(model, block.features[kept]).items():
            contributions[name].append(values)

    def joined(key: str, source: dict[str, list[np.ndarray]], dtype: type) -> np.ndarray:
        return np.concatenate(source[key]) if source[key] else np.zeros(0, dtype)

    recommendations = Recommendations(
        user_index=joined("user", parts, np.int64),
        project_index=joined("project", parts, np.int64),
        rank=joined("rank", parts, np.int64),
        score=joined("score", parts, np.float32),
        components={name: joined(name, parts, np.float32) for name in COMPONENTS},
    )
    return RankedRecommendations(
        recommendations=recommendations,
        contributions={name: joined(name, contributions, np.float64) for name in COMPONENTS},
        formula_score=joined("formula", parts, np.float32),
        raw_score=joined("raw", parts, np.float64),
    )

"""Stage 2: the features of each (user, candidate) pair, computed block by block over users.

`FEATURE_NAMES` lists them in the model's column order: the five unweighted score components,
then what else predicts a star (closeness to the known projects, the candidate's interaction
count in the run, the user's share of known projects in the candidate's language,
label overlaps, push age, the user's signal flags, the candidate's rank by each main signal, the
default formula's normalised score and rank). The user's history size is left out: with it the
trees learn users apart instead of what predicts a star (sample, seed 42 test split, recall@10 /
NDCG@10 0.0478 / 0.1774 with it, 0.0552 / 0.1822 without).
`FEATURE_COMPONENTS` says which score component each feature's contribution is credited to when
a recommendation is explained (None: a fact about the user, credited to no component).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel

from octorec.ranker.candidates import allowed_rank_at, candidate_mask, signal_blocks
from octorec.ranker.statistics import CatalogueStats, days_since_push
from octorec.scoring.inputs import ProjectFeatures
from octorec.scoring.labels import LabelScores, LabelSets
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.scorer import Scorer
from octorec.settings import ContentWeights, ScoringWeights

FEATURE_NAMES: tuple[str, ...] = (
    *COMPONENTS,
    "max_cosine",
    "mean_cosine",
    "log_interactions",
    "language_share",
    "matched_categories",
    "matched_tech_stack",
    "days_since_push",
    "knows_nothing",
    "has_labels",
    "semantic_rank",
    "collaborative_rank",
    "formula",
    "formula_rank",
)
"""The model's feature columns, in order."""

FEATURE_COMPONENTS: dict[str, str | None] = {
    **{name: name for name in COMPONENTS},
    "max_cosine": "semantic",
    "mean_cosine": "semantic",
    "semantic_rank": "semantic",
    "collaborative_rank": "collaborative",
    "formula": None,
    "formula_rank": None,
    "log_interactions": "popularity",
    "days_since_push": "popularity",
    "matched_categories": "category",
    "matched_tech_stack": "tech_stack",
    "language_share": "tech_stack",
    "knows_nothing": None,
    "has_labels": None,
}
"""The score component each feature's contribution is credited to in a reason."""


@dataclass(frozen=True)
class PairBlock:
    """One block of users' candidate pairs, sorted by user then project."""

    user_index: np.ndarray
    project_index: np.ndarray
    features: np.ndarray
    """pairs × `FEATURE_NAMES`, float32 (NaN where a value is unknown)."""
    components: dict[str, np.ndarray]
    """Each registered component's unweighted value per pair."""

    def __len__(self) -> int:
        return len(self.user_index)


def _share(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values()) or 1.0
    return {name: value / total for name, value in weights.items()}


def _documented(settings: type[BaseModel]) -> dict[str, float]:
    """A weights model's documented defaults (never the environment: the feature is fixed)."""
    return {name: float(field.default) for name, field in settings.model_fields.items()}


FORMULA_WEIGHTS = _share(COMPONENTS.weights(_documented(ScoringWeights)))
"""The default weights over their sum: the `formula` feature's weights."""
CONTENT_SHARES = _share(COMPONENTS.weights(_documented(ContentWeights)))
"""The default content weights over their sum: the `formula` feature's for users who know
nothing."""


@dataclass(frozen=True)
class PairCatalogue:
    """The catalogue side of the pair features, the same for every user scored against a
    catalogue and its run's statistics: computed once per `ScoringContext`, not per call."""

    log_interactions: np.ndarray
    days_since_push: np.ndarray
    language: np.ndarray
    """Each project's language code (-1: none)."""
    language_matrix: sp.csr_matrix
    """Projects × languages, 1 at each project's language."""

    @classmethod
    def of(cls, projects: ProjectFeatures, stats: CatalogueStats) -> PairCatalogue:
        """For `projects` (their names, languages and push times) and the run's `stats`."""
        count = len(projects.names)
        if len(stats.interactions) != count:
            raise ValueError(
                f"the statistics cover {len(stats.interactions)} projects, the scorer {count}"
            )
        languages = projects.languages or [None] * count
        vocabulary = {name: i for i, name in enumerate(sorted({x for x in languages if x}))}
        language = np.array([vocabulary.get(x, -1) if x else -1 for x in languages])
        has = language >= 0
        return cls(
            log_interactions=np.log1p(stats.interactions).astype(np.float32),
            days_since_push=days_since_push(projects, stats.newest_push),
            language=language,
            language_matrix=sp.csr_matrix(
                (np.ones(int(has.sum()), dtype=np.float32), (np.nonzero(has)[0], language[has])),
                shape=(count, max(1, len(vocabulary))),
            ),
        )


class PairFeaturizer:
    """Candidates and their features for a scorer's users, a bounded block of users at a time
    (`RECOMMENDATION_BLOCK_MEMORY_MB`, like the exact recommender).

    `catalogue`: the catalogue side computed once (`PairCatalogue.of` the scorer's projects and
    `stats`), when the caller keeps one; otherwise computed here."""

    ARRAYS = 12
    """users × projects arrays a block holds at its peak (components, signals, ranks)."""

    def __init__(
        self,
        scorer: Scorer,
        stats: CatalogueStats,
        per_signal: int,
        catalogue: PairCatalogue | None = None,
    ) -> None:
        if len(stats.interactions) != scorer.project_count:
            raise ValueError(
                f"the statistics cover {len(stats.interactions)} projects, the scorer "
                f"{scorer.project_count}"
            )
        self.scorer = scorer
        self.stats = stats
        self.per_signal = per_signal
        catalogue = catalogue if catalogue is not None else PairCatalogue.of(scorer.projects, stats)
        if len(catalogue.language) != scorer.project_count:
            raise ValueError(
                f"the pair catalogue covers {len(catalogue.language)} projects, the scorer "
                f"{scorer.project_count}"
            )
        self.log_interactions = catalogue.log_interactions
        self.days_since_push = catalogue.days_since_push
        self.language = catalogue.language
        self.language_matrix = catalogue.language_matrix
        known = scorer.users.known
        self.history = np.diff(known.indptr).astype(np.float32)
        self.has_labels = np.array(
            [
                bool(c) or bool(t)
                for c, t in zip(scorer.users.categories, scorer.users.tech_stack, strict=True)
            ],
            dtype=np.float32,
        )
        self.labels = {name: self._label_scores(name) for name in ("category", "tech_stack")}
        self.weights = FORMULA_WEIGHTS
        self.cold_weights = CONTENT_SHARES

    def _label_scores(self, name: str) -> tuple[sp.csr_matrix, LabelSets]:
        scores = self.scorer.scores[name]
        if not isinstance(scores, LabelScores):
            raise TypeError(f"the {name} component is not a label component")
        return scores.users.tocsr(), scores.sets

    def block_rows(self) -> int:
        """Users per block."""
        return self.scorer.block_rows(arrays=self.ARRAYS)

    def blocks(self) -> Iterator[PairBlock]:
        """Every user's candidate pairs, block by block, in user order."""
        step = self.block_rows()
        for start in range(0, self.scorer.user_count, step):
            yield self.block(start, min(start + step, self.scorer.user_count))

    def block(self, start: int, stop: int) -> PairBlock:
        """The candidate pairs of users `start:stop` and their features."""
        scorer = self.scorer
        components = scorer.components(start, stop)
        excluded = scorer.excluded(start, stop)
        signals = signal_blocks(components, self.stats.interactions, stop - start)
        mask = candidate_mask(signals, excluded, self.per_signal)
        rows, columns = np.nonzero(mask)
        users = rows + start
        values = {name: np.asarray(components[name])[rows, columns] for name in COMPONENTS}
        semantic_rank = allowed_rank_at(signals["semantic"], excluded, rows, columns)
        collaborative_rank = allowed_rank_at(signals["collaborative"], excluded, rows, columns)
        formula = self._formula(components, start, stop)
        formula_rank = allowed_rank_at(formula, excluded, rows, columns)
        max_cosine, mean_cosine = self._cosines(rows, columns, start)
        known = scorer.users.known[start:stop]
        language_counts = np.asarray((known @ self.language_matrix).todense(), dtype=np.float32)
        history = self.history[users]
        language = self.language[columns]
        language_share = np.where(
            language >= 0,
            language_counts[rows, np.maximum(language, 0)] / np.maximum(history, 1.0),
            0.0,
        )
        # Shared labels: each user's 0/1 row against each distinct label set once (integer
        # counts, exact in float32), gathered per pair.
        matched = {
            name: (user_labels[start:stop].toarray().astype(np.float32) @ sets.distinct_dense)[
                rows, sets.set_of[columns]
            ]
            for name, (user_labels, sets) in self.labels.items()
        }
        columns_by_name = {
            **values,
            "max_cosine": max_cosine,
            "mean_cosine": mean_cosine,
            "log_interactions": self.log_interactions[columns],
            "language_share": language_share,
            "matched_categories": matched["category"],
            "matched_tech_stack": matched["tech_stack"],
            "days_since_push": self.days_since_push[columns],
            "knows_nothing": scorer.knows_nothing[users].astype(np.float32),
            "has_labels": self.has_labels[users],
            "semantic_rank": np.log1p(semantic_rank),
            "collaborative_rank": np.log1p(collaborative_rank),
            "formula": formula[rows, columns],
            "formula_rank": np.log1p(formula_rank),
        }
        features = (
            np.column_stack(
                [np.asarray(columns_by_name[name], dtype=np.float32) for name in FEATURE_NAMES]
            )
            if len(rows)
            else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
        )
        return PairBlock(
            user_index=users.astype(np.int64),
            project_index=columns.astype(np.int64),
            features=features,
            components={name: v.astype(np.float32) for name, v in values.items()},
        )

    def _formula(self, components: dict[str, np.ndarray], start: int, stop: int) -> np.ndarray:
        """The default formula's score over the sum of its weights (the content weights for
        users who know nothing), users × projects."""
        cold = self.scorer.knows_nothing[start:stop, None]
        result = np.zeros((stop - start, self.scorer.project_count), dtype=np.float32)
        for name in COMPONENTS:
            weight = self.weights.get(name, 0.0)
            cold_weight = self.cold_weights.get(name, 0.0)
            if weight or cold_weight:
                result += np.where(cold, cold_weight, weight) * np.asarray(components[name])
        return result

    def _cosines(
        self, rows: np.ndarray, columns: np.ndarray, start: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The max and mean cosine of each pair's project to the user's known projects (0 for a
        user who knows none), one user at a time (a known × candidates product each)."""
        known = self.scorer.users.known
        vectors = self.scorer.project_semantic
        maximum = np.zeros(len(rows), dtype=np.float32)
        mean = np.zeros(len(rows), dtype=np.float32)
        bounds = np.searchsorted(rows, np.arange(rows.max() + 2 if len(rows) else 1))
        for local in range(len(bounds) - 1):
            low, high = bounds[local], bounds[local + 1]
            user = start + local
            items = known.indices[known.indptr[user] : known.indptr[user + 1]]
            if high == low or len(items) == 0:
                continue
            cosines = vectors[items] @ vectors[columns[low:high]].T
            maximum[low:high] = cosines.max(axis=0)
            mean[low:high] = cosines.mean(axis=0)
        return maximum, mean

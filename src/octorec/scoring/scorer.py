"""The recommendation score, vectorised over users × projects in bounded-memory blocks.

`score = Σ w_c · value_c(u, p) / Σ w_c` over the registered components
(`octorec.scoring.registry`): by default `W_sem·sem(u, p) + W_cat·J(cat_u, cat_p) +
W_tech·J(tech_u, tech_p) + W_pop·pop_p + W_collab·collab(u, p)`, divided by the sum of the
weights, where `sem` is the semantic similarity (`octorec.scoring.semantic`),
J the Jaccard index (`octorec.scoring.labels`), `pop_p` is in [0, 1] and `collab` the
item-item model's score scaled to [0, 1] per user (`octorec.scoring.collaborative`). Every
component is in [0, 1], so the score is too, under the main weights and the cold-start ones
alike (the original design's content weights sum to 1.3: a cold-start score once reached 1.04).

Only eligible projects (the candidate filters) are ranked. A user with no signal at all (nothing
starred or owned, no profile text, no declared interests) gets the most popular active projects,
scored by their popularity alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel

from octorec.scoring.collaborative import ItemItemModel, fit_collaborative
from octorec.scoring.components import ComponentScores, ScoringInputs
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.registry import COMPONENTS
from octorec.settings import ScorerSettings

Weights = BaseModel | Mapping[str, float]
"""`ScoringWeights`, `ContentWeights` or a plain mapping of component names to weights."""


class Scorer:
    """The per-run state of scoring: each component's prepared state, candidate masks, the
    item-item model.

    `components` gives the unweighted component matrices of a block of users, `excluded` what a
    block may not be recommended; `total` and `weighted_block` combine them with the weights.
    The evaluation reuses the same pieces to compare weightings without recomputing them.
    """

    def __init__(
        self,
        users: UserFeatures,
        projects: ProjectFeatures,
        settings: ScorerSettings | None = None,
        *,
        with_collaborative: bool = True,
        item_item: ItemItemModel | None = None,
        prepared: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings or ScorerSettings()
        self.users = users
        self.projects = projects
        # A model fitted already (`item_item`, over this catalogue: a chunk of a shard's, fitted
        # on everyone's interactions) is used as it is.
        self.item_item = (
            item_item
            if item_item is not None or not with_collaborative
            else fit_collaborative(users.known, self.settings)
        )
        self.eligible = projects.mask(projects.eligible)
        self.popularity = np.asarray(projects.popularity, dtype=np.float32)
        self.popular_active = np.where(
            self.eligible & projects.mask(projects.active), self.popularity, 0.0
        ).astype(np.float32)
        self.project_semantic = np.ascontiguousarray(projects.semantic, dtype=np.float32)
        """The projects' semantic vectors as float32 rows (candidate rescoring reads them)."""
        self.never_recommended = users.never_recommended()
        """Users × projects, non-zero where a project is known to or dismissed by the user."""
        self.without_signal = users.without_signal()
        self.knows_nothing = users.knows_nothing()
        # `prepared`: the components' project-side state computed once for this catalogue
        # (`octorec.scoring.context`); without it each component prepares its own.
        inputs = ScoringInputs(
            users,
            projects,
            self.settings,
            self.item_item,
            self.block_rows(arrays=2),
            dict(prepared or {}),
        )
        self.scores: dict[str, ComponentScores] = {
            component.name: component.prepare(inputs) for component in COMPONENTS.declarations()
        }
        """Each registered component's prepared state, by name."""

    @property
    def project_count(self) -> int:
        """Projects in the catalogue scored against."""
        return len(self.projects.names)

    @property
    def user_count(self) -> int:
        """Users scored."""
        return len(self.users.logins)

    def block_rows(self, arrays: int = 4) -> int:
        """Users per block so that `arrays` users × projects float32 arrays fit the budget."""
        budget = self.settings.block_memory_mb * 2**20
        return max(1, budget // (4 * arrays * max(1, len(self.projects.names))))

    def component(self, name: str, start: int, stop: int) -> np.ndarray:
        """One unweighted component for users `start:stop` against every project."""
        if name not in self.scores:
            raise ValueError(f"unknown component {name!r}; expected one of {tuple(self.scores)}")
        return self.scores[name].block(start, stop)

    def components(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Each unweighted component for users `start:stop` against every project."""
        return {name: self.component(name, start, stop) for name in self.scores}

    def pair_components(
        self,
        user_index: np.ndarray,
        project_index: np.ndarray,
        skip: frozenset[str] = frozenset(),
    ) -> dict[str, np.ndarray]:
        """Each unweighted component of the given (user, project) pairs only, except `skip`."""
        return {
            name: scores.pairs(user_index, project_index)
            for name, scores in self.scores.items()
            if name not in skip
        }

    def weighted_block(
        self,
        start: int,
        stop: int,
        weights: Weights,
        cold_start_weights: Weights | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """`total(components(...))` computing only the components some weight uses.

        Returns the scores and the components it computed (to read the kept pairs' values
        from). The sums run in the same order as `total`, so the scores are identical.
        """
        main = COMPONENTS.shares(weights)
        cold_rows = np.nonzero(self.knows_nothing[start:stop])[0]
        cold = (
            COMPONENTS.shares(cold_start_weights)
            if cold_start_weights is not None and len(cold_rows)
            else None
        )
        shape = (stop - start, len(self.projects.names))
        total = np.zeros(shape, dtype=np.float32)
        cold_total = np.zeros((len(cold_rows), shape[1]), dtype=np.float32)
        computed: dict[str, np.ndarray] = {}
        for name in self.scores:
            weight = main[name]
            cold_weight = cold[name] if cold is not None else 0.0
            if not weight and not cold_weight:
                continue
            value = computed[name] = self.component(name, start, stop)
            if weight:
                total += weight * value
            if cold_weight:
                cold_total += cold_weight * value[cold_rows]
        if cold is not None:
            total[cold_rows] = cold_total
        without_signal = self.without_signal[start:stop]
        if without_signal.any():
            total[without_signal] = self.popular_active
        return total, computed

    def total(
        self,
        components: Mapping[str, np.ndarray],
        weights: Weights,
        start: int,
        stop: int,
        cold_start_weights: Weights | None = None,
        columns: np.ndarray | None = None,
    ) -> np.ndarray:
        """The weighted score: the weighted mean of the components (`COMPONENTS.shares`).

        Users who know no project are scored with `cold_start_weights` (the content weights;
        their collaborative component is 0 anyway); users without any signal get popular active
        projects instead. `columns` gives each entry's project when the components hold
        candidates rather than the whole catalogue.
        """
        shape = next(iter(components.values())).shape

        def weighted(chosen: Weights) -> np.ndarray:
            values = COMPONENTS.shares(chosen)
            return sum(
                (values[name] * components[name] for name in self.scores),
                start=np.zeros(shape, dtype=np.float32),
            )

        total = weighted(weights)
        if cold_start_weights is not None and self.knows_nothing[start:stop].any():
            total = np.where(
                self.knows_nothing[start:stop, None], weighted(cold_start_weights), total
            )
        popular = self.popular_active if columns is None else self.popular_active[columns]
        return np.where(self.without_signal[start:stop, None], popular, total)

    def exclude(self, scores: np.ndarray, start: int) -> None:
        """Set to -inf, in place, what users `start:` may not be recommended (see `excluded`)."""
        scores[:, ~self.eligible] = -np.inf
        blocked = self.never_recommended[start : start + scores.shape[0]]
        rows = np.repeat(np.arange(scores.shape[0]), np.diff(blocked.indptr))
        scores[rows, blocked.indices] = -np.inf

    def excluded(self, start: int, stop: int) -> np.ndarray:
        """True where a project may not be recommended: already known, dismissed by the user,
        or filtered out."""
        return (self.never_recommended[start:stop].toarray() > 0) | ~self.eligible

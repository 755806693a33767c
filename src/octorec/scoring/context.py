"""Everything scoring needs that is not per user, built once: `ScoringContext`.

A batch run builds one and scores every stored user against it; the API builds one per results
snapshot and scores a person against it on request (`octorec.scoring.store.score_users`, the
one function both call). It holds the catalogue with its semantic vectors and candidate masks,
the item-item model fitted on everyone's interactions, each component's project-side state
(`Component.prepare_projects`: the label vocabularies and distinct label sets) and the ANN
indexes, built on first use. Nothing in it changes after it is built, so requests share it
without locks (the index cache has its own).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from octorec.ranker import CatalogueStats, RankingModel, scorer_settings_for
from octorec.ranker.features import PairCatalogue
from octorec.ranker.pipeline import stored_ranking_model
from octorec.scoring.ann import IndexCache
from octorec.scoring.collaborative import DualWeights, ItemItemModel, fit_collaborative
from octorec.scoring.inputs import (
    ProjectFeatures,
    UserFeatures,
    everyones_interactions,
    load_catalogue,
)
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.scorer import Scorer
from octorec.settings import ScoringWeights, Settings
from octorec.warehouse import Warehouse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringContext:
    """The catalogue side of scoring, shared by every call of `score_users` against it."""

    projects: ProjectFeatures
    """Every embedded project, in byte order of their names, with unit semantic vectors."""
    item_item: ItemItemModel | None
    """Fitted on everyone's interactions (None when the collaborative weight is 0)."""
    prepared: Mapping[str, Any]
    """Each component's project-side state, by component name."""
    settings: Settings
    """The settings it was built with (scoring with others raises)."""
    interactions: int = 0
    """Users the item-item model learnt from."""
    model: RankingModel | None = None
    """The learned ranker scoring uses (`recommendation_model`); None: the formula ranks."""
    stats: CatalogueStats | None = None
    """The run's catalogue statistics the ranker's features read (with a model only)."""
    pair_catalogue: PairCatalogue | None = None
    """The catalogue side of the ranker's pair features, computed once (with a model only)."""
    seconds: float = 0.0
    row_invariant: bool = False
    """Whether a user's rows are the same whoever else is scored in the same call (batched
    requests; `build_context`)."""
    indexes: IndexCache = field(init=False, repr=False)
    cold_start_weights: ScoringWeights = field(init=False, repr=False)
    """`settings.content_weights` as score weights, made once (pydantic settings cost ms)."""
    fingerprint: str = field(init=False, repr=False)
    """The scoring settings' fingerprint (`scoring_settings_fingerprint`)."""
    columns: dict[str, int] = field(init=False, repr=False)
    """Each project's row by its exact name."""
    _rows: dict[str, int] = field(init=False, repr=False)
    _owned: dict[str, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "indexes", IndexCache(self._base_scorer))
        cold = self.settings.content_weights.as_scoring_weights()
        object.__setattr__(self, "cold_start_weights", cold)
        object.__setattr__(self, "fingerprint", scoring_settings_fingerprint(self.settings))
        columns = {name: i for i, name in enumerate(self.projects.names)}
        object.__setattr__(self, "columns", columns)
        rows = {name.lower(): i for name, i in columns.items()}
        object.__setattr__(self, "_rows", rows)
        owned: dict[str, list[str]] = {}
        for name in self.projects.names:
            owned.setdefault(name.split("/", 1)[0].lower(), []).append(name)
        object.__setattr__(self, "_owned", owned)

    def _base_scorer(self) -> Scorer:
        # A scorer without users over the unfiltered catalogue: what indexes are built from.
        empty = UserFeatures(
            logins=[],
            semantic=np.zeros((0, self.projects.semantic.shape[1]), dtype=np.float32),
            categories=[],
            tech_stack=[],
            known=sp.csr_matrix((0, len(self.projects.names)), dtype=np.float32),
        )
        return Scorer(
            empty,
            self.projects,
            self.settings.scorer,
            with_collaborative=False,
            item_item=self.item_item,
            prepared=self.prepared,
        )

    def row_of(self, full_name: str) -> int | None:
        """A project's row (name compared without case), None when it is not in the catalogue."""
        return self._rows.get(full_name.lower())

    def name_of(self, full_name: str) -> str | None:
        """A project's name as the catalogue spells it, None when it is not in it."""
        row = self.row_of(full_name)
        return None if row is None else self.projects.names[row]

    def owned_by(self, login: str) -> list[str]:
        """The catalogue projects under `login` (any case): dbt counts them as known."""
        return list(self._owned.get(login.lower(), []))

    def restricted(
        self,
        exclude: Collection[str] = (),
        languages: Collection[str] = (),
        categories: Collection[str] = (),
    ) -> ProjectFeatures:
        """The projects with their candidate mask narrowed for one call: `exclude` (names, any
        case; e.g. a user's dismissals) never recommended, and when given, only projects in
        one of `languages` and with one of `categories` (both compared without case)."""
        if not exclude and not languages and not categories:
            return self.projects
        eligible = self.projects.mask(self.projects.eligible).copy()
        for name in exclude:
            row = self.row_of(name)
            if row is not None:
                eligible[row] = False
        if languages:
            wanted = {language.lower() for language in languages}
            known = self.projects.languages or [None] * len(self.projects.names)
            eligible &= np.array([(lang or "").lower() in wanted for lang in known], dtype=bool)
        if categories:
            wanted = {category.lower() for category in categories}
            eligible &= np.array(
                [any(label.lower() in wanted for label in row) for row in self.projects.categories],
                dtype=bool,
            )
        return replace(self.projects, eligible=eligible)

    def warm_up(self) -> None:
        """Build now what the first request would otherwise wait for (the ANN indexes)."""
        from octorec.settings import Retrieval

        if self.settings.scorer.retrieval == Retrieval.ANN:
            self.indexes.get(self.settings.weights)
            self.indexes.get(self.cold_start_weights)


def scoring_settings_fingerprint(settings: Settings) -> str:
    """The settings that change scores (weights, scorer, filters, top N, threshold), hashed."""
    relevant = settings.model_dump(
        mode="json",
        include={
            "weights",
            "content_weights",
            "scorer",
            "filters",
            "top_n",
            "min_similarity",
            "user_profile_weight",
        },
    )
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def build_context(
    projects: ProjectFeatures,
    interactions: sp.csr_matrix,
    settings: Settings,
    model: RankingModel | None = None,
    *,
    row_invariant: bool = False,
) -> ScoringContext:
    """The context for `projects` (with their semantic vectors), the item-item model fitted on
    `interactions` (everyone's, users × `projects`) when the collaborative weight is positive
    or a learned ranker (`model`, whose λ it is fitted with) ranks.

    `row_invariant`: the item-item model's dual form multiplies each user on their own, so a
    user scored with others (a batch of requests) gets exactly the rows they get alone; the
    batch run leaves it off (one product over all its users, which rounds differently in the
    last bits)."""
    started = time.perf_counter()
    with_collaborative = COMPONENTS.weights(settings.weights).get("collaborative", 0.0) > 0
    scorer_settings = (
        settings.scorer if model is None else scorer_settings_for(model, settings.scorer)
    )
    item_item = (
        fit_collaborative(interactions, scorer_settings)
        if with_collaborative or model is not None
        else None
    )
    if row_invariant and item_item is not None and isinstance(item_item.form, DualWeights):
        item_item = replace(item_item, form=replace(item_item.form, row_by_row=True))
    stats = None if model is None else CatalogueStats.from_run(interactions, projects)
    prepared = {
        component.name: component.prepare_projects(projects)
        for component in COMPONENTS.declarations()
        if component.prepare_projects is not None
    }
    context = ScoringContext(
        projects=projects,
        item_item=item_item,
        prepared=prepared,
        settings=settings,
        interactions=interactions.shape[0],
        seconds=time.perf_counter() - started,
        model=model,
        stats=stats,
        pair_catalogue=None if stats is None else PairCatalogue.of(projects, stats),
        row_invariant=row_invariant,
    )
    logger.info(
        "scoring context: %d projects, item-item model on %d users, built in %.2f s",
        len(projects.names),
        interactions.shape[0],
        context.seconds,
    )
    return context


def select_users(users: UserFeatures, rows: Sequence[int]) -> UserFeatures:
    """The users at `rows`, in that order (with their dismissals)."""
    index = list(rows)
    return UserFeatures(
        logins=[users.logins[i] for i in index],
        semantic=users.semantic[index],
        categories=[users.categories[i] for i in index],
        tech_stack=[users.tech_stack[i] for i in index],
        known=users.known[index],
        dismissed=None if users.dismissed is None else users.dismissed[index],
    )


def join_users(parts: Sequence[UserFeatures]) -> UserFeatures:
    """The users of every part, one after the other (parts over the same catalogue)."""
    if not parts:
        raise ValueError("no users to join")
    width = parts[0].known.shape[1]
    dismissed = None
    if any(part.dismissed is not None for part in parts):
        dismissed = sp.vstack(
            [
                part.dismissed
                if part.dismissed is not None
                else sp.csr_matrix((len(part.logins), width), dtype=np.float32)
                for part in parts
            ],
            format="csr",
        )
    return UserFeatures(
        logins=[login for part in parts for login in part.logins],
        semantic=np.vstack([part.semantic for part in parts]),
        categories=[row for part in parts for row in part.categories],
        tech_stack=[row for part in parts for row in part.tech_stack],
        known=sp.vstack([part.known for part in parts], format="csr"),
        dismissed=dismissed,
    )


def load_context(warehouse: Warehouse, settings: Settings) -> ScoringContext:
    """The context of the stored catalogue, the model fitted on every stored user's projects."""
    projects = load_catalogue(warehouse, settings)
    return build_context(
        projects,
        everyones_interactions(warehouse, projects.names),
        settings,
        stored_ranking_model(warehouse),
    )

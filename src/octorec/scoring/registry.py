"""The score components, in the order every sum over them runs: `COMPONENTS`.

`score = Σ w_c · value_c(u, p) / Σ w_c` over the registered components: a weighted mean, so a
score is in [0, 1] (each component is) whichever weights made it, the main ones or the cold-start
ones (`Registry.shares`). Everything that lists the components (the scorer, both recommenders,
the stored table's columns, the reasons, the run metadata, the evaluation) iterates this
registry, so a component is added by declaring it here (or, in a test, with
`COMPONENTS.registered(...)`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
from pydantic import BaseModel

from octorec.scoring.collaborative import CollaborativeScores
from octorec.scoring.components import Component, Reason, ScoringInputs
from octorec.scoring.inputs import ProjectFeatures
from octorec.scoring.labels import LabelCatalogue, LabelScores
from octorec.scoring.popularity import PopularityScores
from octorec.scoring.semantic import CATALOGUE_COSINES_BYTES, SemanticScores, catalogue_cosines
from octorec.sources.taxonomy import CATEGORY, TECH_STACK, load_taxonomy

COLLABORATIVE_SHARE = 0.25
"""The share of the score above which the collaborative evidence is named."""
POPULARITY_SHARE = 0.5
"""The share of the score above which popularity is said to carry the recommendation."""


def _semantic(inputs: ScoringInputs) -> SemanticScores:
    return SemanticScores(
        inputs.users.known,
        inputs.users.semantic,
        inputs.projects.semantic,
        inputs.settings.semantic_neighbours,
        memory_bytes=inputs.settings.block_memory_mb * 2**20,
        cosines=inputs.prepared.get("semantic"),
    )


def _semantic_catalogue(projects: ProjectFeatures) -> np.ndarray | None:
    # Small catalogues: the cosines of every pair, so a request gathers its known projects'
    # rows instead of multiplying them with the whole catalogue.
    return catalogue_cosines(projects.semantic, CATALOGUE_COSINES_BYTES)


def _category(inputs: ScoringInputs) -> LabelScores:
    return LabelScores(
        inputs.users.categories, inputs.projects.categories, inputs.prepared.get("category")
    )


def _tech_stack(inputs: ScoringInputs) -> LabelScores:
    return LabelScores(
        inputs.users.tech_stack, inputs.projects.tech_stack, inputs.prepared.get("tech_stack")
    )


def _category_catalogue(projects: ProjectFeatures) -> LabelCatalogue:
    # Every taxonomy label: a person's declared categories are mapped to them (dbt's rule).
    return LabelCatalogue(projects.categories, sorted(load_taxonomy().all_labels(CATEGORY)))


def _tech_stack_catalogue(projects: ProjectFeatures) -> LabelCatalogue:
    return LabelCatalogue(projects.tech_stack, sorted(load_taxonomy().all_labels(TECH_STACK)))


def _popularity(inputs: ScoringInputs) -> PopularityScores:
    return PopularityScores(inputs.projects.popularity)


def _collaborative(inputs: ScoringInputs) -> CollaborativeScores:
    return CollaborativeScores(
        inputs.item_item, inputs.users.known, len(inputs.projects.names), inputs.pair_rows
    )


class Registry:
    """The declared components in order; iterating it gives their names."""

    def __init__(self, components: list[Component]) -> None:
        self._components = list(components)

    def __iter__(self) -> Iterator[str]:
        return iter([component.name for component in self._components])

    def __len__(self) -> int:
        return len(self._components)

    def __contains__(self, name: object) -> bool:
        return any(component.name == name for component in self._components)

    def __getitem__(self, name: str) -> Component:
        for component in self._components:
            if component.name == name:
                return component
        raise KeyError(f"unknown component {name!r}; expected one of {tuple(self)}")

    def declarations(self) -> tuple[Component, ...]:
        """Every declaration, in order."""
        return tuple(self._components)

    def register(self, component: Component) -> None:
        """Add a component after the others."""
        if component.name in self:
            raise ValueError(f"a component named {component.name!r} is registered already")
        self._components.append(component)

    def unregister(self, name: str) -> None:
        """Remove a component."""
        self._components.remove(self[name])

    @contextmanager
    def registered(self, component: Component) -> Iterator[Component]:
        """The component registered for the duration of a `with` block."""
        self.register(component)
        try:
            yield component
        finally:
            self.unregister(component.name)

    def weights(self, weights: BaseModel | Mapping[str, float]) -> dict[str, float]:
        """Each component's weight: the field of its name of a settings model (`ScoringWeights`,
        `ContentWeights`) or the key of its name of a mapping; 0 where there is none."""
        values = weights.model_dump() if isinstance(weights, BaseModel) else dict(weights)
        unknown = sorted(set(values) - set(self))
        if unknown and not isinstance(weights, BaseModel):
            raise ValueError(f"weights for unknown components {unknown}; known: {tuple(self)}")
        return {name: float(values.get(name, 0.0)) for name in self}

    def shares(self, weights: BaseModel | Mapping[str, float]) -> dict[str, float]:
        """Each component's weight divided by the sum of the weights (`weights`), so that the
        shares sum to 1 and `Σ share × component` is a weighted mean in [0, 1]: the weights a
        score is made with and stored with (`<name>_weight`). Weights that sum to 1 already (to
        the last bits of rounding: 0.2 + 0.2 + 0.6) are returned unchanged, so the default and
        the fitted weights (a simplex grid) give the scores they gave before scores were means.

        Raises:
            ValueError: no weight is positive (the settings refuse such weights already).
        """
        values = self.weights(weights)
        total = sum(values.values())
        if not total > 0:
            raise ValueError(f"at least one weight must be positive, got {values}")
        if math.isclose(total, 1.0, rel_tol=0.0, abs_tol=1e-12):
            return values
        return {name: value / total for name, value in values.items()}


COMPONENTS = Registry(
    [
        Component(
            "semantic",
            _semantic,
            index_fallback=True,
            description="closeness in meaning to what the user knows",
            prepare_projects=_semantic_catalogue,
        ),
        Component(
            "category",
            _category,
            description="Jaccard index of the categories",
            prepare_projects=_category_catalogue,
        ),
        Component(
            "tech_stack",
            _tech_stack,
            description="Jaccard index of the tech stacks",
            prepare_projects=_tech_stack_catalogue,
        ),
        Component(
            "popularity",
            _popularity,
            reason=Reason("popular", POPULARITY_SHARE, after_matches=True),
            description="the project's popularity",
        ),
        Component(
            "collaborative",
            _collaborative,
            reason=Reason("starred by people who star what you star", COLLABORATIVE_SHARE),
            description="the item-item model's score",
        ),
    ]
)
"""The score's components."""

"""What a score component is: one declaration that the scorer, both recommenders, the stored
table, the reasons and the run metadata read (`octorec.scoring.registry` holds them).

A declaration names the component (its weight is the field of that name in `ScoringWeights` /
`ContentWeights`, or the key of that name in a plain mapping of weights; its stored columns are
`<name>_similarity` and `<name>_weight`), says how to prepare its per-run state from the
scorer's inputs, and optionally the phrase a reason names when the component carries enough of
a recommendation's score. The prepared state scores a block of users against every project,
scores given (user, project) pairs, and, when the component has a vector form, gives the
project and query blocks of the approximate index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from octorec.scoring.collaborative import ItemItemModel
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.settings import ScorerSettings


@dataclass(frozen=True)
class ScoringInputs:
    """What a component prepares its per-run state from."""

    users: UserFeatures
    projects: ProjectFeatures
    settings: ScorerSettings
    item_item: ItemItemModel | None
    """The fitted item-item model (None when the collaborative weight is 0)."""
    pair_rows: int
    """Users whose values over the whole catalogue fit the block memory twice."""
    prepared: Mapping[str, Any] = field(default_factory=dict)
    """Project-side state prepared once per catalogue (`Component.prepare_projects`), by
    component name; empty when every run prepares its own (`octorec.scoring.context`)."""


class ComponentScores(Protocol):
    """A component's per-run state; every value is unweighted, in [0, 1]."""

    unit_block: bool
    """Whether the index scales this component's blocks to unit length per row."""

    def block(self, start: int, stop: int) -> np.ndarray:
        """Users `start:stop` × every project."""
        ...

    def pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        """One value per given (user, project) pair."""
        ...

    def project_block(self, projects: np.ndarray | slice) -> np.ndarray | None:
        """The projects' block of the index vectors, or None without a vector form."""
        ...

    def query_block(self, users: np.ndarray) -> np.ndarray | None:
        """The users' block of the query vectors (None without a vector form)."""
        ...


@dataclass(frozen=True)
class Reason:
    """The phrase a recommendation's reason names when this component's share of the score
    (weight × value over the score) is at least `share`; `after_matches` puts it after the
    matched labels."""

    phrase: str
    share: float
    after_matches: bool = False


@dataclass(frozen=True)
class Component:
    """One score component, declared once."""

    name: str
    prepare: Callable[[ScoringInputs], ComponentScores]
    reason: Reason | None = None
    index_fallback: bool = False
    """Index by this component (weight 1) when no component with a vector form is weighted."""
    description: str = ""
    prepare_projects: Callable[[ProjectFeatures], Any] | None = None
    """What `prepare` needs of the projects alone, computed once per catalogue and reused for
    every scoring of users against it (`ScoringInputs.prepared`); None: nothing to keep."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(
                f"component name {self.name!r}: lower-case letters, digits and _ only "
                "(it names the stored table's columns)"
            )

    @property
    def similarity_column(self) -> str:
        """Its unweighted value's column in the stored recommendations."""
        return f"{self.name}_similarity"

    @property
    def weight_column(self) -> str:
        """Its weight's column in the stored recommendations."""
        return f"{self.name}_weight"

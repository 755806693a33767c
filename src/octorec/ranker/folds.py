"""Validation hold-outs carved from the current interactions, as the evaluation carves them.

A seeded share of each user's stars (`octorec.evaluation.split.holdout_split`; users with fewer
than `RANKER_MIN_STARS` keep everything) is hidden; owned projects always stay known (a project
is owned when its owner is the user's login, dbt's rule). The users are rebuilt from what
remains by the pipeline's own rules (`profile_features`), and the fold's scorer, item-item model
and catalogue statistics see only that remainder: nothing held out reaches a feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from octorec.evaluation.split import holdout_split
from octorec.features import interaction_matrix
from octorec.ranker.statistics import CatalogueStats
from octorec.scoring.inputs import ProjectFeatures
from octorec.scoring.profiles import Profile, profile_features
from octorec.scoring.scorer import Scorer
from octorec.settings import ScorerSettings


@dataclass(frozen=True)
class Fold:
    """One validation hold-out: the rebuilt users' scorer, the run statistics, the answers."""

    scorer: Scorer
    stats: CatalogueStats
    held_out: sp.csr_matrix
    """users × projects, 1 at each held-out star."""

    @property
    def evaluated(self) -> np.ndarray:
        """Rows of the users with held-out stars."""
        return np.nonzero(np.diff(self.held_out.indptr) > 0)[0]


def owns(login: str, project: str) -> bool:
    """Whether `login` owns `project` (`owner/name`), compared without case as dbt does."""
    return project.split("/", 1)[0].lower() == login.lower()


def stars_of(profiles: Sequence[Profile], names: Sequence[str]) -> list[tuple[str, str]]:
    """Every (login, project) star of a catalogue project the user does not own."""
    catalogue = set(names)
    return [
        (person.login, project)
        for person in profiles
        for project in dict.fromkeys(person.known)
        if project in catalogue and not owns(person.login, project)
    ]


def carve_fold(
    profiles: Sequence[Profile],
    projects: ProjectFeatures,
    scorer_settings: ScorerSettings,
    profile_weight: float,
    *,
    holdout: float,
    seed: int,
    min_stars: int,
) -> Fold:
    """Hide a seeded share of each user's stars and rebuild everything from the rest."""
    split = holdout_split(stars_of(profiles, projects.names), holdout, seed, min_stars)
    rebuilt = []
    for person in profiles:
        hidden = set(split.test.get(person.login, ()))
        rebuilt.append(replace(person, known=[p for p in person.known if p not in hidden]))
    users = profile_features(rebuilt, projects, profile_weight)
    held_out = interaction_matrix(
        [split.test.get(person.login, []) for person in profiles],
        {name: j for j, name in enumerate(projects.names)},
    )
    scorer = Scorer(users, projects, scorer_settings)
    return Fold(scorer, CatalogueStats.from_run(users.known, projects), held_out)

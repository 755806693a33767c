"""Seeded per-user hold-out splits of interactions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class HoldoutSplit:
    """Each evaluated user's training and held-out projects."""

    train: dict[str, list[str]]
    test: dict[str, list[str]]

    @property
    def test_interactions(self) -> int:
        """How many interactions were held out in all."""
        return sum(len(projects) for projects in self.test.values())


def holdout_split(
    interactions: Iterable[tuple[str, str]],
    fraction: float = 0.2,
    seed: int = 42,
    min_interactions: int = 5,
) -> HoldoutSplit:
    """Hold out `fraction` of each user's interactions at random, for users with enough of them.

    Users with fewer than `min_interactions` keep everything in training and are not evaluated.
    At least one interaction is held out and at least one kept for every evaluated user. The
    result depends only on the interactions (not their order) and the seed.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"the hold-out fraction must be between 0 and 1, not {fraction}")
    by_user: dict[str, set[str]] = defaultdict(set)
    for user, project in interactions:
        by_user[user].add(project)
    rng = np.random.default_rng(seed)
    train: dict[str, list[str]] = {}
    test: dict[str, list[str]] = {}
    for user in sorted(by_user):
        projects = sorted(by_user[user])
        if len(projects) < min_interactions:
            train[user] = projects
            continue
        held = min(max(1, round(fraction * len(projects))), len(projects) - 1)
        chosen = set(rng.choice(len(projects), size=held, replace=False).tolist())
        test[user] = [p for i, p in enumerate(projects) if i in chosen]
        train[user] = [p for i, p in enumerate(projects) if i not in chosen]
    return HoldoutSplit(train=train, test=test)

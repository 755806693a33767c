"""Evaluating on a subset of the users: the robustness checks of `octorec evaluate`.

A deployment's data has its own shape; the subsets give the sample other shapes: only the users
with the most stars (`most-stars:N`), or a seeded random share of them (`--user-sample 0.5`).
The other users leave entirely (their stars too), as if the deployment had never seen them; the
catalogue stays whole.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from octorec.sources.base import SourceData

SAMPLE_SEED = 0
"""The seed of `--user-sample`'s draw (fixed: the same users every run)."""


@dataclass(frozen=True)
class UserSubset:
    """Which users an evaluation keeps: the `most_stars` with the most stars (all when None),
    then a `sample` share of those drawn with `SAMPLE_SEED` (all when None)."""

    most_stars: int | None = None
    sample: float | None = None

    @classmethod
    def parse(cls, users: str | None, sample: float | None) -> UserSubset:
        """From `--user-subset` (`all` or `most-stars:N`) and `--user-sample`.

        Raises:
            ValueError: a subset that is neither.
        """
        most = None
        if users and users != "all":
            match = re.fullmatch(r"most-stars:([1-9][0-9]*)", users)
            if match is None:
                raise ValueError(f"expected all or most-stars:N for the users, not {users!r}")
            most = int(match.group(1))
        if sample is not None and not 0 < sample <= 1:
            raise ValueError(f"the user sample must be a share in (0, 1], not {sample}")
        return cls(most, sample)

    def describe(self) -> str:
        """The subset as the report states it."""
        parts = [f"most-stars:{self.most_stars}"] if self.most_stars is not None else []
        if self.sample is not None:
            parts.append(f"sample:{self.sample:g} (seed {SAMPLE_SEED})")
        return " ".join(parts) or "all"

    def apply(self, data: SourceData) -> SourceData:
        """`data` with only the kept users and their interactions."""
        if self.most_stars is None and self.sample is None:
            return data
        counts = Counter(i.user_login.lower() for i in data.interactions)
        logins = sorted(counts, key=lambda login: (-counts[login], login))
        if self.most_stars is not None:
            logins = logins[: self.most_stars]
        if self.sample is not None:
            ordered = sorted(logins)
            size = max(1, round(self.sample * len(ordered)))
            picks = np.random.default_rng(SAMPLE_SEED).choice(len(ordered), size, replace=False)
            logins = [ordered[i] for i in sorted(picks.tolist())]
        kept = set(logins)
        return replace(
            data,
            users=[u for u in data.users if u.login.lower() in kept],
            interactions=[i for i in data.interactions if i.user_login.lower() in kept],
        )

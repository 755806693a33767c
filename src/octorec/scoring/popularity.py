"""The popularity component: the project's popularity in [0, 1], the same for every user."""

from __future__ import annotations

import numpy as np


class PopularityScores:
    """The popularity component of a run.

    In the approximate index the project's block is its popularity and the query's is 1, so
    their product is the popularity.
    """

    unit_block = False

    def __init__(self, popularity: np.ndarray) -> None:
        self.popularity = np.asarray(popularity, dtype=np.float32)

    def block(self, start: int, stop: int) -> np.ndarray:
        """Users `start:stop` × every project (a broadcast view, not a copy)."""
        return np.broadcast_to(self.popularity, (stop - start, len(self.popularity)))

    def pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        """The given (user, project) pairs only."""
        return self.popularity[project_index]

    def project_block(self, projects: np.ndarray | slice) -> np.ndarray:
        """The projects' popularity, one column."""
        return self.popularity[projects].reshape(-1, 1)

    def query_block(self, users: np.ndarray) -> np.ndarray:
        """1 per user, one column."""
        return np.ones((len(users), 1), dtype=np.float32)

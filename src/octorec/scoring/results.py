"""A scoring run's result: the kept (user, project) pairs with each component's value, and the
accumulator that collects them block by block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from octorec.scoring.registry import COMPONENTS

if TYPE_CHECKING:  # the scorer builds parts; parts only call it
    from octorec.scoring.scorer import Scorer

INDEX_COLUMNS = ("user_index", "project_index", "rank")


@dataclass(frozen=True)
class Recommendations:
    """The kept (user, project) pairs, best first per user, with each score component's
    unweighted value (`components`, keyed by the registered names)."""

    user_index: np.ndarray
    project_index: np.ndarray
    rank: np.ndarray
    score: np.ndarray
    components: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.user_index)


class RecommendationParts:
    """Kept pairs collected block by block, then joined into one `Recommendations`."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {
            name: [] for name in (*INDEX_COLUMNS, "score", *COMPONENTS)
        }

    def add(
        self,
        scorer: Scorer,
        start: int,
        scores: np.ndarray,
        best: np.ndarray,
        min_score: float,
        computed: Mapping[str, np.ndarray],
        columns: np.ndarray | None = None,
    ) -> None:
        """Keep the finite scores above `min_score` among each row's `best` columns.

        `columns` maps a row's columns to catalogue projects when `scores` holds candidates
        rather than the whole catalogue. Components in `computed` (aligned with `scores`) are
        read at the kept pairs; the others are computed for those pairs only.
        """
        best_scores = np.take_along_axis(scores, best, axis=1)
        keep = np.isfinite(best_scores) & (best_scores >= min_score)
        local_rows = np.nonzero(keep)[0]
        local_columns = best[keep]
        projects = local_columns if columns is None else columns[local_rows, local_columns]
        users = local_rows + start
        self.parts["user_index"].append(users)
        self.parts["project_index"].append(projects)
        self.parts["rank"].append(np.cumsum(keep, axis=1)[keep])
        self.parts["score"].append(best_scores[keep])
        for name, value in computed.items():
            self.parts[name].append(np.asarray(value[local_rows, local_columns], dtype=np.float32))
        others = scorer.pair_components(users, projects, skip=frozenset(computed))
        for name, value in others.items():
            self.parts[name].append(value)

    @classmethod
    def joined(cls, blocks: Sequence[RecommendationParts]) -> Recommendations:
        """The blocks' kept pairs, in block order."""
        everything = cls()
        for block in blocks:
            for name, parts in block.parts.items():
                everything.parts[name].extend(parts)
        return everything.result()

    def result(self) -> Recommendations:
        """Everything kept, in the order added."""

        def joined(name: str) -> np.ndarray:
            parts = self.parts[name]
            empty = np.int64 if name in INDEX_COLUMNS else np.float32
            return np.concatenate(parts) if parts else np.zeros(0, empty)

        return Recommendations(
            user_index=joined("user_index"),
            project_index=joined("project_index"),
            rank=joined("rank"),
            score=joined("score"),
            components={name: joined(name) for name in COMPONENTS},
        )

"""Hybrid embeddings: the semantic vector joined with category, tech-stack and popularity blocks.

Each block is scaled so that the dot product of two (unnormalised) hybrid vectors is
`w_sem·cos + w_cat·cos(categories) + w_tech·cos(tech stack) + w_pop·pop·pop'`: the same components
and weights as the recommendation score, with set cosine in place of Jaccard. The result is
L2-normalised, so one vector serves nearest-neighbour search over projects and users alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from octorec.features import multi_hot, unit_rows, weighted_blocks
from octorec.settings import ScoringWeights


@dataclass(frozen=True)
class HybridLayout:
    """Which slice of a hybrid vector holds which feature."""

    semantic_dimensions: int
    categories: tuple[str, ...]
    tech_stack: tuple[str, ...]

    @property
    def dimensions(self) -> int:
        """Total length: semantic + categories + tech stack + one popularity value."""
        return self.semantic_dimensions + len(self.categories) + len(self.tech_stack) + 1

    def describe(self) -> dict[str, int]:
        """Block sizes, for run metadata."""
        return {
            "semantic": self.semantic_dimensions,
            "categories": len(self.categories),
            "tech_stack": len(self.tech_stack),
            "popularity": 1,
            "total": self.dimensions,
        }


def hybrid_embeddings(
    semantic: np.ndarray,
    categories: Sequence[Sequence[str]],
    tech_stack: Sequence[Sequence[str]],
    popularity: np.ndarray,
    layout: HybridLayout,
    weights: ScoringWeights,
) -> np.ndarray:
    """Build L2-normalised hybrid vectors, one per row of `semantic`."""
    if semantic.shape[1] != layout.semantic_dimensions:
        raise ValueError(
            f"semantic vectors have {semantic.shape[1]} values, layout expects "
            f"{layout.semantic_dimensions}"
        )
    return unit_rows(
        weighted_blocks(
            [
                (weights.semantic, semantic, True),
                (weights.category, multi_hot(categories, layout.categories).toarray(), True),
                (weights.tech_stack, multi_hot(tech_stack, layout.tech_stack).toarray(), True),
                (weights.popularity, np.asarray(popularity).reshape(-1, 1), False),
            ],
            keep_unweighted=True,
        )
    )

"""One interface over the ways of finding each user's best projects.

`ExactRecommender` (`octorec.scoring.exact`) scores every user against every project in bounded
blocks; `AnnRecommender` (`octorec.scoring.ann`) rescores, with the same formula, only the
candidates an approximate nearest-neighbour index and the collaborative model propose. Both take
a `Scorer` and return `Recommendations`, so callers (and the shared tests) treat them alike;
`octorec.scoring.recommend` picks one by `RECOMMENDATION_RETRIEVAL`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from octorec.scoring.results import Recommendations
from octorec.scoring.scorer import Scorer, Weights


class Recommender(ABC):
    """Finds each user's best `top_n` projects scoring at least `min_score` for a scorer."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer

    @abstractmethod
    def recommend(
        self,
        weights: Weights,
        top_n: int,
        min_score: float,
        cold_start_weights: Weights | None = None,
    ) -> Recommendations:
        """The kept pairs, best first per user. Users who know no project are scored with
        `cold_start_weights` when given (see `Scorer.total`)."""

"""Exact recommendation: every user against every project, in blocks of users run side by side."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

from octorec.cores import available_cores
from octorec.scoring import ranking
from octorec.scoring.recommender import Recommender
from octorec.scoring.results import RecommendationParts, Recommendations
from octorec.scoring.scorer import Weights


class ExactRecommender(Recommender):
    """Scores blocks of users against the whole catalogue, each block's best kept.

    A block holds as many users as six users × projects float32 arrays per core fit in
    `RECOMMENDATION_BLOCK_MEMORY_MB`, so memory grows with the block, never with users ×
    projects.
    """

    def recommend(
        self,
        weights: Weights,
        top_n: int,
        min_score: float,
        cold_start_weights: Weights | None = None,
    ) -> Recommendations:
        """The kept pairs, best first per user (see `Recommender.recommend`)."""
        scorer = self.scorer
        users = scorer.user_count
        workers = max(1, min(available_cores(), users))
        rows = max(1, min(scorer.block_rows(arrays=6) // workers, -(-users // workers)))
        starts = range(0, users, rows)

        def score_block(start: int) -> RecommendationParts:
            stop = min(start + rows, users)
            total, computed = scorer.weighted_block(start, stop, weights, cold_start_weights)
            scorer.exclude(total, start)
            parts = RecommendationParts()
            parts.add(scorer, start, total, ranking.top_n(total, top_n), min_score, computed)
            return parts

        if workers == 1:
            return RecommendationParts.joined([score_block(start) for start in starts])
        # Blocks run side by side, one core each: NumPy's element-wise passes and partial sorts
        # release the GIL, and one BLAS thread per block avoids oversubscribing the cores.
        with threadpool_limits(1, "blas"), ThreadPoolExecutor(workers) as pool:
            return RecommendationParts.joined(list(pool.map(score_block, starts)))

"""The rows of `user_project_similarities` for a scoring result: each kept pair with its
components, the weights its formula score was made with, the labels that matched, the most
similar known project and a one-line reason."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from octorec.scoring.explanations import PairEvidence, pair_evidence, reason
from octorec.scoring.inputs import ProjectFeatures, UserFeatures
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.results import Recommendations
from octorec.scoring.scorer import Weights


def weights_used(
    weights: Weights,
    cold_start_weights: Weights,
    knows_nothing: np.ndarray,
    without_signal: np.ndarray,
) -> np.ndarray:
    """Users × components: the weights each user's score was made with (`Scorer.total`'s rules),
    as shares summing to 1 (`COMPONENTS.shares`), so that score = Σ weight × component.

    Users who know no project are weighed with the cold-start weights; users without any signal
    get the popularity of active projects (popularity weight 1, the rest 0).
    """
    main, cold = COMPONENTS.shares(weights), COMPONENTS.shares(cold_start_weights)
    rows = np.where(
        knows_nothing[:, None], [cold[n] for n in COMPONENTS], [main[n] for n in COMPONENTS]
    ).astype(np.float64)
    rows[without_signal] = [1.0 if n == "popularity" else 0.0 for n in COMPONENTS]
    return rows


def recommendations_table(
    result: Recommendations,
    users: UserFeatures,
    projects: ProjectFeatures,
    weights: Weights,
    content_weights: Weights,
    run_id: str,
    reasons: Sequence[str] | None = None,
    formula_score: np.ndarray | None = None,
    model_version: str | None = None,
    evidence: PairEvidence | None = None,
) -> pa.Table:
    """The rows of `user_project_similarities` for a scoring result, each with its reason.

    Each registered component has its unweighted value in `<name>_similarity` and the weight
    the user's formula score was made with in `<name>_weight`. `content_weights` are the
    cold-start weights (`ContentWeights`: no collaborative part). A result the learned ranker
    ordered (model `model_version`) comes with the reasons its contributions give and the
    formula score its floor applied to; otherwise the reasons come from the weighted components
    and `formula_score` is the score. `evidence`: the pairs' `PairEvidence`, when the reasons
    were made from it already."""
    computed_at = datetime.now(UTC)
    if evidence is None:
        evidence = pair_evidence(
            users, projects, projects.semantic, result.user_index, result.project_index
        )
    categories, tech_stack = evidence.categories, evidence.tech_stack
    similar = [projects.names[i] if i is not None else None for i in evidence.similar]
    without_signal = users.without_signal()
    used = weights_used(weights, content_weights, users.knows_nothing(), without_signal)[
        result.user_index
    ]
    reasons = (
        list(reasons)
        if reasons is not None
        else [
            reason(
                {
                    n: float(used[row, i]) * float(result.components[n][row])
                    for i, n in enumerate(COMPONENTS)
                },
                categories[row],
                tech_stack[row],
                similar[row],
                without_signal=bool(without_signal[result.user_index[row]]),
            )
            for row in range(len(result))
        ]
    )
    formula_score = result.score if formula_score is None else formula_score
    return pa.table(
        {
            "user_login": pa.array([users.logins[i] for i in result.user_index], pa.string()),
            "project_full_name": pa.array(
                [projects.names[i] for i in result.project_index], pa.string()
            ),
            "rank": pa.array(result.rank, pa.int32()),
            "score": pa.array(result.score, pa.float64()),
            **{f"{n}_similarity": pa.array(result.components[n], pa.float64()) for n in COMPONENTS},
            "matched_categories": pa.array(categories, pa.list_(pa.string())),
            "matched_tech_stack": pa.array(tech_stack, pa.list_(pa.string())),
            "similar_known_project": pa.array(similar, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            **{f"{n}_weight": pa.array(used[:, i], pa.float64()) for i, n in enumerate(COMPONENTS)},
            "formula_score": pa.array(formula_score, pa.float64()),
            "model_version": pa.array([model_version] * len(result), pa.string()),
            "run_id": pa.array([run_id] * len(result), pa.string()),
            "computed_at": pa.array([computed_at] * len(result)),
        }
    )

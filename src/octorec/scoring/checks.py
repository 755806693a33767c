"""Checks on what users read: the stored recommendations and the embeddings behind them.

Plain functions on Arrow tables (no Dagster here): `octorec.defs.checks` turns each outcome into
an asset check result. The recommendation checks run on the staged result, before it replaces
the stored table, so a failing blocking check keeps the previous table (docs/pipeline.md,
"Failures and bad settings").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from octorec.warehouse.vectors import matrix_from_arrow

AT_MOST_TOP_N: Final = "at_most_top_n_per_user"
NOTHING_ALREADY_KNOWN: Final = "nothing_already_known"
SCORES_FINITE_ABOVE_THRESHOLD: Final = "scores_finite_above_threshold"
COVERAGE_HELD: Final = "users_without_recommendations_did_not_jump"
EMBEDDINGS_UNIT_NORM: Final = "embeddings_have_model_dimension_and_unit_norm"

MAX_COVERAGE_JUMP: Final = 0.10
"""How much the share of users without recommendations may grow between runs (10 points)."""
NORM_TOLERANCE: Final = 1e-3
"""How far from 1 a stored unit vector's norm may be (float32 vectors)."""
EXAMPLES: Final = 5


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict, what it found and a one-line explanation."""

    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def at_most_top_n(table: pa.Table, top_n: int) -> CheckOutcome:
    """Every user has at most `top_n` recommendations."""
    counts = pc.value_counts(table.column("user_login"))
    over = [(row["values"], row["counts"]) for row in counts.to_pylist() if row["counts"] > top_n]
    return CheckOutcome(
        AT_MOST_TOP_N,
        not over,
        f"{len(over)} users have more than RECOMMENDATION_TOP_N={top_n} recommendations",
        {"users_over": len(over), "examples": [f"{u} ({n})" for u, n in over[:EXAMPLES]]},
    )


def nothing_already_known(table: pa.Table, known: pa.Table) -> CheckOutcome:
    """No user is recommended a project they starred or own (`known`: user_login and
    project_full_name pairs)."""
    pairs = table.select(["user_login", "project_full_name"])
    clash = pairs.join(
        known.select(["user_login", "project_full_name"]),
        keys=["user_login", "project_full_name"],
        join_type="inner",
    )
    examples = [f"{r['user_login']}: {r['project_full_name']}" for r in clash.to_pylist()]
    return CheckOutcome(
        NOTHING_ALREADY_KNOWN,
        clash.num_rows == 0,
        f"{clash.num_rows} recommendations are projects the user already knows",
        {"already_known": clash.num_rows, "examples": examples[:EXAMPLES]},
    )


def scores_finite_above_threshold(table: pa.Table, min_similarity: float) -> CheckOutcome:
    """Every score is a finite number and every formula score (the score itself, unless the
    learned ranker ordered the rows: then the floor it applied) not below
    `RECOMMENDATION_MIN_SIMILARITY`."""
    scores = table.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    floor = (
        table.column("formula_score").to_numpy(zero_copy_only=False).astype(np.float64)
        if "formula_score" in table.column_names
        else scores
    )
    not_finite = int(np.count_nonzero(~np.isfinite(scores) | ~np.isfinite(floor)))
    below = int(np.count_nonzero(np.isfinite(floor) & (floor < min_similarity)))
    return CheckOutcome(
        SCORES_FINITE_ABOVE_THRESHOLD,
        not_finite == 0 and below == 0,
        f"{not_finite} scores are not finite, {below} are below "
        f"RECOMMENDATION_MIN_SIMILARITY={min_similarity}",
        {"not_finite": not_finite, "below_threshold": below},
    )


def coverage_held(
    users: int,
    users_with_recommendations: int,
    previous: tuple[int, int] | None,
    max_jump: float = MAX_COVERAGE_JUMP,
) -> CheckOutcome:
    """The share of users without recommendations grew by at most `max_jump` since the
    previous run (`previous`: its users and users with recommendations; None on a first run)."""
    share = 1 - users_with_recommendations / users if users else 0.0
    if previous is None or previous[0] == 0:
        return CheckOutcome(
            COVERAGE_HELD,
            True,
            f"{share:.1%} of users without recommendations (no previous run to compare)",
            {"share_without": round(share, 4)},
        )
    before = 1 - previous[1] / previous[0]
    return CheckOutcome(
        COVERAGE_HELD,
        share - before <= max_jump,
        f"users without recommendations: {share:.1%}, {before:.1%} in the previous run "
        f"(at most {max_jump:.0%} points more allowed)",
        {"share_without": round(share, 4), "previous_share_without": round(before, 4)},
    )


def recommendation_checks(
    table: pa.Table,
    known: pa.Table,
    *,
    top_n: int,
    min_similarity: float,
    users: int,
    previous: tuple[int, int] | None,
) -> list[CheckOutcome]:
    """Every check on a result of `user_project_similarities`, in a fixed order."""
    users_with = len(pc.unique(table.column("user_login")))
    return [
        at_most_top_n(table, top_n),
        nothing_already_known(table, known),
        scores_finite_above_threshold(table, min_similarity),
        coverage_held(users, users_with, previous),
    ]


def embeddings_unit_norm(
    column: pa.ChunkedArray | pa.Array, dimensions: int, *, zero_allowed: bool = False
) -> CheckOutcome:
    """Every vector has `dimensions` values (`MODEL_DIMENSIONS`) and norm 1 (0 too where
    `zero_allowed`: a user with nothing to embed)."""
    try:
        matrix = matrix_from_arrow(column, dimensions)
    except ValueError as error:
        return CheckOutcome(
            EMBEDDINGS_UNIT_NORM, False, f"MODEL_DIMENSIONS={dimensions}: {error}", {}
        )
    norms = np.linalg.norm(matrix.astype(np.float64), axis=1)
    unit = np.abs(norms - 1) <= NORM_TOLERANCE
    if zero_allowed:
        unit |= norms == 0
    bad = int(np.count_nonzero(~unit))
    worst = float(np.max(np.abs(norms - 1))) if len(norms) else 0.0
    return CheckOutcome(
        EMBEDDINGS_UNIT_NORM,
        bad == 0,
        f"{bad} of {len(norms)} vectors are not of norm 1",
        {
            "vectors": len(norms),
            "not_unit": bad,
            "max_norm_error": round(worst, 6) if math.isfinite(worst) else "nan",
            "dimensions": dimensions,
        },
    )

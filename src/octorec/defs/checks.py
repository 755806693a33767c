"""Asset checks on what users read, as Dagster sees them: specs for the assets and results
from the outcomes of `octorec.scoring.checks` (which holds the logic, without Dagster)."""

from collections.abc import Sequence

import dagster as dg

from octorec import constants as c
from octorec.scoring import checks

BLOCKING_RECOMMENDATION_CHECKS = (
    checks.AT_MOST_TOP_N,
    checks.NOTHING_ALREADY_KNOWN,
    checks.SCORES_FINITE_ABOVE_THRESHOLD,
)
"""Checks computed on the staged result; a failure keeps the stored table and fails the step."""

_DESCRIPTIONS = {
    checks.AT_MOST_TOP_N: "every user has at most RECOMMENDATION_TOP_N recommendations",
    checks.NOTHING_ALREADY_KNOWN: "no user is recommended a project they starred or own",
    checks.SCORES_FINITE_ABOVE_THRESHOLD: (
        "every score is finite and not below RECOMMENDATION_MIN_SIMILARITY"
    ),
    checks.COVERAGE_HELD: (
        "the share of users without recommendations grew by at most "
        f"{checks.MAX_COVERAGE_JUMP:.0%} points since the previous run (warns)"
    ),
}


def recommendation_check_specs() -> list[dg.AssetCheckSpec]:
    """The checks of `user_project_similarities`; the blocking ones run before publishing."""
    return [
        dg.AssetCheckSpec(
            name,
            asset=c.USER_PROJECT_SIMILARITIES,
            description=description
            + (
                " (checked before the result is published)"
                if name in BLOCKING_RECOMMENDATION_CHECKS
                else ""
            ),
            blocking=name in BLOCKING_RECOMMENDATION_CHECKS,
        )
        for name, description in _DESCRIPTIONS.items()
    ]


def embedding_check_spec(asset: str, column: str) -> dg.AssetCheckSpec:
    """The dimension and unit-norm check of an embedding asset's `column`."""
    return dg.AssetCheckSpec(
        checks.EMBEDDINGS_UNIT_NORM,
        asset=asset,
        description=f"every stored {column} has MODEL_DIMENSIONS values and norm 1",
    )


def check_result(outcome: checks.CheckOutcome, *, warn: bool = False) -> dg.AssetCheckResult:
    """The Dagster result of one check outcome."""
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
        description=outcome.description,
        metadata=outcome.metadata,
    )


def failed_blocking(outcomes: Sequence[checks.CheckOutcome]) -> list[checks.CheckOutcome]:
    """The blocking checks among `outcomes` that failed."""
    return [o for o in outcomes if not o.passed and o.name in BLOCKING_RECOMMENDATION_CHECKS]

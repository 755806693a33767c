"""Scoring users against a catalogue (`score_users`, the one function the batch run and
request-time scoring both call), and replacing the stored result table."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from octorec import constants as c
from octorec.ranker.pipeline import rank_with_model, stored_ranking_model
from octorec.scoring.chunked import score_in_project_chunks
from octorec.scoring.context import (
    ScoringContext,
    build_context,
    load_catalogue,
    scoring_settings_fingerprint,
)
from octorec.scoring.inputs import ProjectFeatures, UserFeatures, read_users, user_features
from octorec.scoring.recommend import recommend
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.rows import recommendations_table
from octorec.settings import Settings
from octorec.warehouse import Warehouse
from octorec.warehouse.fingerprints import combined_fingerprint, table_fingerprint
from octorec.warehouse.sharded import ShardOutcome, stage_shard

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimilaritySummary:
    """What one scoring run produced."""

    users: int
    projects: int
    recommendations: int
    users_with_recommendations: int
    seconds: float
    table: pa.Table
    known: pa.Table | None = None
    """(user_login, project_full_name) pairs the users starred or own, for the checks."""


def score_users(
    users: UserFeatures,
    context: ScoringContext,
    settings: Settings,
    run_id: str,
    *,
    top_n: int | None = None,
    exclude: Collection[str] = (),
    languages: Collection[str] = (),
    categories: Collection[str] = (),
) -> pa.Table:
    """The rows of `user_project_similarities` for `users` scored against the context's
    catalogue: each user's best `top_n` (default `RECOMMENDATION_TOP_N`) above the threshold,
    with components, weights and reasons.

    The batch run scores every stored user through here and a request one person, so a user
    in the last run gets the same rows both ways. `exclude` are projects none of these users
    is recommended (a request's `exclude=`, a user's dismissals); `languages` and `categories`,
    when given, keep only projects in one of them. With a learned ranker in the context
    (`recommendation_model`), it orders each user's candidates; otherwise the formula does.

    Raises:
        ValueError: `settings` score differently from those the context was built with.
    """
    if settings is not context.settings and scoring_settings_fingerprint(settings) != (
        context.fingerprint
    ):
        raise ValueError(
            "the scoring context was built with other scoring settings; build it again"
        )
    projects = context.restricted(exclude, languages, categories)
    cold_start_weights = context.cold_start_weights
    if context.model is not None and context.stats is not None:
        ranked, scorer = rank_with_model(
            users,
            projects,
            settings,
            context.model,
            context.stats,
            top_n=settings.top_n if top_n is None else top_n,
            item_item=context.item_item,
            prepared=context.prepared,
            catalogue=context.pair_catalogue,
            cold_start_weights=cold_start_weights,
        )
        evidence = ranked.evidence(scorer)
        return recommendations_table(
            ranked.recommendations,
            users,
            projects,
            settings.weights,
            cold_start_weights,
            run_id,
            reasons=ranked.reasons(scorer, evidence),
            formula_score=ranked.formula_score,
            model_version=context.model.version,
            evidence=evidence,
        )
    result = recommend(
        users,
        projects,
        settings.weights,
        settings.top_n if top_n is None else top_n,
        settings.min_similarity,
        scorer_settings=settings.scorer,
        cold_start_weights=cold_start_weights,
        item_item=context.item_item,
        prepared=context.prepared,
        indexes=context.indexes,
    )
    return recommendations_table(
        result, users, projects, settings.weights, cold_start_weights, run_id
    )


def score_all(warehouse: Warehouse, settings: Settings, run_id: str) -> SimilaritySummary:
    """Score every user and keep the top N above the threshold; writes nothing (`publish`
    stores the result once everything the step reports and checks is computed).

    The context's item-item model is fitted on the users scored: everyone."""
    started = time.perf_counter()
    projects = load_catalogue(warehouse, settings)
    users = user_features(
        read_users(warehouse, settings), projects.names, settings.model_dimensions
    )
    context = build_context(projects, users.known, settings, stored_ranking_model(warehouse))
    _, summary = _score(users, context, settings, run_id, started=started)
    return summary


def publish(warehouse: Warehouse, table: pa.Table) -> None:
    """Replace the stored recommendations with `table`, in one transaction."""
    ensure_component_columns(warehouse)
    warehouse.replace(c.USER_PROJECT_SIMILARITIES, table)


def score_and_store(warehouse: Warehouse, settings: Settings, run_id: str) -> SimilaritySummary:
    """Score every user, keep the top N above the threshold, replace the result atomically."""
    summary = score_all(warehouse, settings, run_id)
    publish(warehouse, summary.table)
    return summary


class EmptyResultError(RuntimeError):
    """A scoring run would replace stored recommendations with none."""


def refuse_empty_result(
    warehouse: Warehouse, summary: SimilaritySummary, *, allowed: bool
) -> str | None:
    """Refuse a result without a single recommendation when the stored table has some for
    users who are still there.

    Returns a warning to log where `allowed` (`OCTOREC_ALLOW_EMPTY_RESULTS`), else None.

    Raises:
        EmptyResultError: the result is empty, the stored table is not, and it was not allowed;
            the stored table is kept.
    """
    if summary.recommendations > 0:
        return None
    # Only users still there count: the recommendations of users who left the data leave too.
    stored = (
        warehouse.query(
            f"SELECT count(DISTINCT s.user_login) AS users FROM {c.USER_PROJECT_SIMILARITIES} "
            f"AS s WHERE s.user_login IN (SELECT user_login FROM {c.DBT_USER_PROJECT_SIMILARITIES})"
        )
        .column("users")[0]
        .as_py()
    )
    if not stored:
        return None
    message = (
        f"this run recommends nothing to any of {summary.users} users, while "
        f"{stored} users have recommendations stored"
    )
    if allowed:
        return f"{message}; replacing them as OCTOREC_ALLOW_EMPTY_RESULTS=1 asks"
    raise EmptyResultError(
        f"{message}: kept the stored ones (check RECOMMENDATION_MIN_SIMILARITY and the "
        "RECOMMENDATION_WEIGHT_* settings, or set OCTOREC_ALLOW_EMPTY_RESULTS=1)"
    )


def ensure_component_columns(warehouse: Warehouse) -> None:
    """Add the `<name>_similarity` and `<name>_weight` columns of every registered component
    to the stored table (and its shard staging table) where they are missing.

    The warehouse schema declares the default components' columns; one declared later gets its
    columns here, before its first rows are written (0 for the rows stored before it)."""
    wanted = [
        column
        for component in COMPONENTS.declarations()
        for column in (component.similarity_column, component.weight_column)
    ]
    for table in (c.USER_PROJECT_SIMILARITIES, f"{c.USER_PROJECT_SIMILARITIES}{c.STAGED_SUFFIX}"):
        present = set(
            warehouse.query(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?",
                [table],
            )
            .column("column_name")
            .to_pylist()
        )
        for column in wanted:
            if column not in present:  # the default components' columns are in the schema
                warehouse.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} DOUBLE DEFAULT 0"
                )


@dataclass(frozen=True)
class ShardSummary:
    """What scoring one user shard produced, and whether it completed the table."""

    shard: int
    shards: int
    scored: SimilaritySummary
    outcome: ShardOutcome
    generation: str


def score_shard_and_stage(
    warehouse: Warehouse, settings: Settings, run_id: str, shard: int, shards: int
) -> ShardSummary:
    """Score the users of one shard (`octorec.sharding`), stage their rows, and publish
    `user_project_similarities` if this was the last shard of its generation.

    Every shard fits the item-item model on everyone's interactions, so a shard's rows are
    exactly the unpartitioned run's rows for its users. The generation is a fingerprint of the
    inputs and the scoring settings: shards computed from different inputs are never mixed.
    """
    started = time.perf_counter()
    # The inputs' fingerprint first: inputs rewritten while this shard scores then make it
    # stage under the older generation, which the newer shards never publish with.
    generation = combined_fingerprint(
        [
            table_fingerprint(warehouse, c.DBT_USER_PROJECT_SIMILARITIES),
            table_fingerprint(warehouse, c.PROJECT_HYBRID_EMBEDDINGS),
            table_fingerprint(warehouse, c.DBT_PROJECT_ENRICHED_DATA),
            scoring_settings_fingerprint(settings),
        ]
    )
    if stored_ranking_model(warehouse) is not None:
        # Each shard scores its users against chunks of the catalogue; the ranker's candidates
        # are drawn from the whole catalogue, which a chunk does not see.
        logger.warning(
            "shard %d of %d ranks with the formula's weights: sharded scoring does not use the "
            "learned ranker yet (docs/scale-out.md)",
            shard,
            shards,
        )
    chunked = score_in_project_chunks(warehouse, settings, shard, shards)
    ensure_component_columns(warehouse)
    result = chunked.recommendations
    table = recommendations_table(
        result,
        chunked.users,
        chunked.projects,
        settings.weights,
        settings.content_weights.as_scoring_weights(),
        run_id,
    )
    summary = SimilaritySummary(
        users=len(chunked.users.logins),
        projects=chunked.catalogue_size,
        recommendations=len(result),
        users_with_recommendations=len(np.unique(result.user_index)),
        seconds=time.perf_counter() - started,
        table=table,
    )
    outcome = stage_shard(
        warehouse,
        c.USER_PROJECT_SIMILARITIES,
        table,
        shard=shard,
        shards=shards,
        generation=generation,
        run_id=run_id,
    )
    return ShardSummary(shard, shards, summary, outcome, generation)


def _score(
    users: UserFeatures,
    context: ScoringContext,
    settings: Settings,
    run_id: str,
    started: float,
) -> tuple[pa.Table, SimilaritySummary]:
    table = score_users(users, context, settings, run_id)
    summary = SimilaritySummary(
        users=len(users.logins),
        projects=len(context.projects.names),
        recommendations=table.num_rows,
        users_with_recommendations=len(set(table.column("user_login").to_pylist())),
        seconds=time.perf_counter() - started,
        table=table,
        known=known_pairs(users, context.projects),
    )
    return table, summary


def known_pairs(users: UserFeatures, projects: ProjectFeatures) -> pa.Table:
    """The (user_login, project_full_name) pairs of `users.known`."""
    known = users.known.tocsr()
    rows = np.repeat(np.arange(known.shape[0]), np.diff(known.indptr))
    logins = np.asarray(users.logins, dtype=object)
    names = np.asarray(projects.names, dtype=object)
    return pa.table(
        {
            "user_login": pa.array(logins[rows].tolist() if len(rows) else [], pa.string()),
            "project_full_name": pa.array(
                names[known.indices].tolist() if len(rows) else [], pa.string()
            ),
        }
    )

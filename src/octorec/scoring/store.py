"""Scoring users against a catalogue (`score_users`, the one function the batch run and
request-time scoring both call), and replacing the stored result table."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
from octorec.scoring.explanations import matched_labels, most_similar_known, reason
from octorec.scoring.inputs import ProjectFeatures, UserFeatures, read_users, user_features
from octorec.scoring.recommend import recommend
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.results import Recommendations
from octorec.scoring.scorer import Weights
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
) -> pa.Table:
    """The rows of `user_project_similarities` for a scoring result, each with its reason.

    Each registered component has its unweighted value in `<name>_similarity` and the weight
    the user's formula score was made with in `<name>_weight`. `content_weights` are the
    cold-start weights (`ContentWeights`: no collaborative part). A result the learned ranker
    ordered (model `model_version`) comes with the reasons its contributions give and the
    formula score its floor applied to; otherwise the reasons come from the weighted components
    and `formula_score` is the score."""
    computed_at = datetime.now(UTC)
    categories = matched_labels(
        users.categories, projects.categories, result.user_index, result.project_index
    )
    tech_stack = matched_labels(
        users.tech_stack, projects.tech_stack, result.user_index, result.project_index
    )
    similar = [
        projects.names[i] if i is not None else None
        for i in most_similar_known(
            users.known, projects.semantic, result.user_index, result.project_index
        )
    ]
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
        )
        return recommendations_table(
            ranked.recommendations,
            users,
            projects,
            settings.weights,
            cold_start_weights,
            run_id,
            reasons=ranked.reasons(scorer),
            formula_score=ranked.formula_score,
            model_version=context.model.version,
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

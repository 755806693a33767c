"""Scoring one user shard against the catalogue read in chunks of projects, in bounded memory.

A shard reads its users, every project's labels, popularity and candidate masks (not their
vectors: `read_catalogue`, once per run) and everyone's known projects by name (for the
item-item model, fitted once). Then, chunk by chunk of `RECOMMENDATION_PROJECT_CHUNK_ROWS`
projects in name order, it reads the semantic vectors of the chunk and of the projects its users
know (the semantic term compares candidates with those), scores
its users against them with only the chunk's projects eligible, and keeps each user's best
`top_n`; the chunks' best are then merged per user by score, ties to the lower name, as one
pass over the whole catalogue breaks them. Every component of a pair depends only on the user,
the project and the user's known projects, and the collaborative scale is taken over every
modelled item in every chunk, so the result is the unchunked one (tested).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from octorec.features import interaction_matrix
from octorec.scoring.collaborative import ItemItemModel, fit_collaborative
from octorec.scoring.inputs import (
    ProjectFeatures,
    UserFeatures,
    everyones_interactions,
    read_catalogue,
    read_semantic,
    read_users,
    user_features,
)
from octorec.scoring.recommend import recommend
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.results import Recommendations
from octorec.settings import Settings
from octorec.warehouse import Warehouse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkedResult:
    """The shard's recommendations, indexed into `users` and `projects` (the recommended and
    the known projects only), and how much was scored."""

    recommendations: Recommendations
    users: UserFeatures
    projects: ProjectFeatures
    catalogue_size: int
    chunks: int


def score_in_project_chunks(
    warehouse: Warehouse, settings: Settings, shard: int, shards: int
) -> ChunkedResult:
    """Score the users of `shard` against every project, `project_chunk_rows` at a time."""
    users = read_users(warehouse, settings, shard, shards)
    everything = read_catalogue(warehouse, settings)
    catalogue = list(everything.names)
    known_lists = users.column("known_projects").to_pylist()
    dismissed_lists = users.column("dismissed_projects").to_pylist()
    in_catalogue = set(catalogue)
    known = sorted({name for names in known_lists for name in names if name in in_catalogue})
    # The users' vectors and labels, and the projects' labels and masks, are read once; each
    # chunk reads only its projects' vectors and gets its own known matrix.
    shard_users = user_features(users, [], settings.model_dimensions)
    model = (
        fit_collaborative(everyones_interactions(warehouse, catalogue), settings.scorer)
        if settings.weights.collaborative > 0
        else None
    )
    step = settings.scorer.project_chunk_rows
    kept: list[_Kept] = []
    for start in range(0, len(catalogue), step):
        started = time.perf_counter()
        chunk = catalogue[start : start + step]
        kept.append(
            _score_chunk(
                warehouse,
                settings,
                everything,
                shard_users,
                known_lists,
                dismissed_lists,
                chunk,
                known,
                model,
            )
        )
        logger.info(
            "shard %d: projects %d-%d of %d scored in %.2f s",
            shard,
            start,
            start + len(chunk),
            len(catalogue),
            time.perf_counter() - started,
        )
    best = _merge(kept, settings.top_n)
    final = _read_projects(warehouse, settings, everything, set(best.names) | set(known))
    column = {name: i for i, name in enumerate(final.names)}
    recommendations = Recommendations(
        user_index=best.user_index,
        project_index=np.array([column[n] for n in best.names], dtype=np.int64),
        rank=best.rank,
        score=best.score,
        components=best.components,
    )
    return ChunkedResult(
        recommendations=recommendations,
        users=_knowing(shard_users, known_lists, dismissed_lists, final.names),
        projects=final,
        catalogue_size=len(catalogue),
        chunks=len(kept),
    )


@dataclass(frozen=True)
class _Kept:
    """Recommendations of one chunk (or merged), with project names instead of indices."""

    user_index: np.ndarray
    names: list[str]
    rank: np.ndarray
    score: np.ndarray
    components: dict[str, np.ndarray]


def _read_projects(
    warehouse: Warehouse, settings: Settings, catalogue: ProjectFeatures, names: set[str]
) -> ProjectFeatures:
    """The catalogue's projects named `names`, in name order, with their semantic vectors."""
    index = np.array([i for i, name in enumerate(catalogue.names) if name in names], dtype=np.int64)
    chosen = [catalogue.names[i] for i in index.tolist()]
    return catalogue.subset(index, read_semantic(warehouse, settings, chosen))


def _score_chunk(
    warehouse: Warehouse,
    settings: Settings,
    catalogue: ProjectFeatures,
    users: UserFeatures,
    known_lists: Sequence[Sequence[str]],
    dismissed_lists: Sequence[Sequence[str]],
    chunk: Sequence[str],
    known: Sequence[str],
    model: ItemItemModel | None,
) -> _Kept:
    in_chunk = set(chunk)
    projects = _read_projects(warehouse, settings, catalogue, in_chunk | set(known))
    # Known projects outside the chunk are read for the semantic term only; they are scored
    # (for the users who do not know them) with their own chunk.
    eligible = projects.mask(projects.eligible) & np.array(
        [name in in_chunk for name in projects.names], dtype=bool
    )
    projects = replace(projects, eligible=eligible)
    features = _knowing(users, known_lists, dismissed_lists, projects.names)
    chunk_model = None
    if model is not None:
        # The model was fitted over the whole catalogue; its items move to this one's columns.
        column = {name: i for i, name in enumerate(projects.names)}
        chunk_model = model.on_catalogue(
            np.array([column.get(catalogue.names[i], -1) for i in model.items.tolist()], np.int64),
            len(projects.names),
        )
    result = recommend(
        features,
        projects,
        settings.weights,
        settings.top_n,
        settings.min_similarity,
        scorer_settings=settings.scorer,
        cold_start_weights=settings.content_weights.as_scoring_weights(),
        item_item=chunk_model,
    )
    return _Kept(
        user_index=result.user_index,
        names=[projects.names[i] for i in result.project_index.tolist()],
        rank=result.rank,
        score=result.score,
        components=dict(result.components),
    )


def _knowing(
    users: UserFeatures,
    known_lists: Sequence[Sequence[str]],
    dismissed_lists: Sequence[Sequence[str]],
    catalogue: Sequence[str],
) -> UserFeatures:
    """The users with their known and dismissed projects as columns of `catalogue`."""
    column = {name: i for i, name in enumerate(catalogue)}
    return replace(
        users,
        known=interaction_matrix(known_lists, column),
        dismissed=interaction_matrix(dismissed_lists, column),
    )


def _merge(parts: Sequence[_Kept], top_n: int) -> _Kept:
    """Each user's best `top_n` of every chunk's, by score, ties to the lower name."""
    users = np.concatenate([p.user_index for p in parts]) if parts else np.zeros(0, np.int64)
    names = [name for p in parts for name in p.names]
    scores = np.concatenate([p.score for p in parts]) if parts else np.zeros(0, np.float32)
    components = {
        name: np.concatenate([p.components[name] for p in parts])
        if parts
        else np.zeros(0, np.float32)
        for name in COMPONENTS
    }
    name_order = np.argsort(np.array(names, dtype=object), kind="stable")
    name_rank = np.empty(len(names), dtype=np.int64)
    name_rank[name_order] = np.arange(len(names))
    order = np.lexsort((name_rank, -scores, users))
    users, scores = users[order], scores[order]
    first = np.r_[True, users[1:] != users[:-1]] if len(users) else np.zeros(0, bool)
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(users)), 0))
    rank = np.arange(len(users)) - group_start + 1
    keep = rank <= top_n
    return _Kept(
        user_index=users[keep],
        names=[names[i] for i in order[keep].tolist()],
        rank=rank[keep],
        score=scores[keep],
        components={name: value[order][keep] for name, value in components.items()},
    )

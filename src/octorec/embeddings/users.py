"""User semantic vectors from what they wrote about themselves and what they starred or own."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from octorec import constants as c
from octorec.embeddings.cache import content_hash, encode_with_cache
from octorec.embeddings.encoder import TextEncoder
from octorec.embeddings.hybrid import hybrid_embeddings
from octorec.embeddings.projects import hybrid_layout
from octorec.features import interaction_matrix
from octorec.settings import Settings
from octorec.warehouse import Warehouse, matrix_from_arrow, vectors_to_arrow


class SemanticBasis(StrEnum):
    """What a user's semantic vector was built from."""

    INTERACTIONS = "interactions"
    PROFILE = "profile"
    PROFILE_AND_INTERACTIONS = "profile_and_interactions"
    NONE = "none"


def user_semantic_vectors(
    interactions: sp.csr_matrix,
    project_vectors: np.ndarray,
    profile_vectors: np.ndarray,
    has_profile: np.ndarray,
    profile_weight: float,
) -> tuple[np.ndarray, list[SemanticBasis]]:
    """Blend each user's mean project vector with their profile-text vector.

    `v = normalise((1 - a)·mean(projects) + a·profile)` with `a = profile_weight` when the user has
    both; whichever exists when they have one; zeros when they have neither (the semantic term
    then contributes nothing and the other components decide).

    Returns:
        The unit-length (or zero) vectors and, per user, what they were built from.
    """
    counts = np.asarray(interactions.sum(axis=1)).ravel()
    sums = np.asarray(interactions @ project_vectors, dtype=np.float32)
    means = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=counts[:, None] > 0)
    has_interactions = counts > 0
    has_profile = np.asarray(has_profile, dtype=bool)
    a = np.where(has_interactions & has_profile, profile_weight, np.where(has_profile, 1.0, 0.0))
    blended = (1.0 - a)[:, None] * means + a[:, None] * profile_vectors
    norms = np.linalg.norm(blended, axis=1, keepdims=True)
    vectors = np.divide(blended, norms, out=np.zeros_like(blended), where=norms > 0)
    bases = [
        SemanticBasis.PROFILE_AND_INTERACTIONS
        if i and p
        else SemanticBasis.INTERACTIONS
        if i
        else SemanticBasis.PROFILE
        if p
        else SemanticBasis.NONE
        for i, p in zip(has_interactions, has_profile, strict=True)
    ]
    return vectors.astype(np.float32), bases


@dataclass(frozen=True)
class UserEmbeddingSummary:
    """What one run of the user embeddings did."""

    users: int
    bases: dict[str, int]
    profiles_embedded: int
    seconds: float
    texts_embedded: int = 0
    """Distinct profile texts embedded now (the others came from the embedding cache)."""
    texts_reused: int = 0


def build_user_embeddings(
    warehouse: Warehouse,
    encoder: TextEncoder,
    settings: Settings,
    run_id: str,
    shard: int = 0,
    shards: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> UserEmbeddingSummary:
    """Embed the users from their profile text and known projects and replace the user table,
    or with `shards` above 1, only the rows of the users in `shard`.

    Only the vectors of the projects these users know are read. The user's hybrid vector uses
    the project layout, so users and projects live in one space. `on_progress(done, total)`
    follows the profile texts being embedded (`encode_with_cache`).
    """
    started = time.perf_counter()
    condition, params = warehouse.shard_condition("user_login", shard, shards)
    users = warehouse.query(
        "SELECT user_login, profile_text, categories, tech_stack, known_projects, "
        f"mean_popularity FROM {c.DBT_USER_EMBEDDINGS_DATA} WHERE {condition} ORDER BY user_login",
        params,
    )
    known = sorted({name for names in users.column("known_projects").to_pylist() for name in names})
    with warehouse.staged("_octorec_known", pa.table({"name": pa.array(known, pa.string())})):
        projects = warehouse.query(
            f"SELECT s.project_full_name, s.embedding FROM {c.PROJECT_SEMANTIC_EMBEDDINGS} AS s "
            "INNER JOIN _octorec_known AS k ON k.name = s.project_full_name"
        ).sort_by("project_full_name")
    # The semantic table owns the vectors: slicing them out of the hybrid ones would tie them
    # to the hybrid blocks' weights (a semantic weight of 0 there would zero them here).
    project_semantic = matrix_from_arrow(projects.column("embedding"), settings.model_dimensions)
    project_index = {
        name: i for i, name in enumerate(projects.column("project_full_name").to_pylist())
    }
    interactions = interaction_matrix(users.column("known_projects").to_pylist(), project_index)

    profile_texts = users.column("profile_text").to_pylist()
    has_profile = np.array([text is not None for text in profile_texts], dtype=bool)
    profile_vectors = np.zeros((users.num_rows, settings.model_dimensions), dtype=np.float32)
    texts = [text for text in profile_texts if text is not None]
    embedded = reused = 0
    if texts:
        hashes = [content_hash(t) for t in texts]
        encoded = encode_with_cache(
            warehouse, encoder, texts, hashes, refresh=settings.force, on_progress=on_progress
        )
        profile_vectors[has_profile] = encoded.vectors
        embedded, reused = encoded.embedded, encoded.reused

    semantic, bases = user_semantic_vectors(
        interactions, project_semantic, profile_vectors, has_profile, settings.user_profile_weight
    )
    vectors = hybrid_embeddings(
        semantic,
        users.column("categories").to_pylist(),
        users.column("tech_stack").to_pylist(),
        np.asarray(users.column("mean_popularity").to_pylist(), dtype=np.float32),
        hybrid_layout(warehouse, settings),
        settings.content_weights.as_scoring_weights(),
    )
    counts = np.asarray(interactions.sum(axis=1)).ravel().astype(np.int32)
    rows = pa.table(
        {
            "user_login": users.column("user_login"),
            "embedding": vectors_to_arrow(vectors),
            "semantic_embedding": vectors_to_arrow(semantic),
            "semantic_basis": pa.array([str(b) for b in bases], pa.string()),
            "interacted_projects": pa.array(counts, pa.int32()),
            "run_id": pa.array([run_id] * users.num_rows, pa.string()),
            "computed_at": pa.array([datetime.now(UTC)] * users.num_rows),
        }
    )
    warehouse.replace_shard(c.USER_EMBEDDINGS, rows, "user_login", shard, shards)
    return UserEmbeddingSummary(
        users=users.num_rows,
        bases=dict(Counter(str(b) for b in bases)),
        profiles_embedded=len(texts),
        seconds=time.perf_counter() - started,
        texts_embedded=embedded,
        texts_reused=reused,
    )

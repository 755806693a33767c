"""What the ranker's training reads from the warehouse: every stored user as a `Profile`.

The facts come from the tables that own them: the known projects, the declared (taxonomy-mapped)
labels and the profile text from `dbt_user_embeddings_data`, the profile text's vector from the
embedding cache (embedded now only when the cache lacks it, as `user_embeddings` does).
"""

from __future__ import annotations

import numpy as np

from octorec import constants as c
from octorec.embeddings.cache import content_hash, encode_with_cache
from octorec.embeddings.encoder import TextEncoder
from octorec.scoring.profiles import Profile
from octorec.warehouse import Warehouse


def read_profiles(warehouse: Warehouse, encoder: TextEncoder) -> list[Profile]:
    """Every user of `dbt_user_embeddings_data`, in byte order of their logins."""
    users = warehouse.query(
        "SELECT user_login, profile_text, known_projects, declared_categories, "
        f"declared_tech_stack FROM {c.DBT_USER_EMBEDDINGS_DATA}"
    ).sort_by("user_login")
    texts = users.column("profile_text").to_pylist()
    written = [t for t in texts if t is not None]
    vectors = np.zeros((0, 0), dtype=np.float32)
    if written:
        encoded = encode_with_cache(warehouse, encoder, written, [content_hash(t) for t in written])
        vectors = np.asarray(encoded.vectors, dtype=np.float32)  # as user_embeddings takes them
    profiles = []
    position = 0
    for login, text, known, categories, tech_stack in zip(
        users.column("user_login").to_pylist(),
        texts,
        users.column("known_projects").to_pylist(),
        users.column("declared_categories").to_pylist(),
        users.column("declared_tech_stack").to_pylist(),
        strict=True,
    ):
        vector = None
        if text is not None:
            vector = vectors[position]
            position += 1
        profiles.append(
            Profile(
                login=login,
                known=tuple(known or ()),
                profile_vector=vector,
                declared_categories=tuple(categories or ()),
                declared_tech_stack=tuple(tech_stack or ()),
            )
        )
    return profiles

"""Scorer input built in Python from what is known of a person, by the rules the pipeline's own
steps follow for the stored users (`dbt_user_embeddings_data` for the labels, `user_embeddings`
for the semantic vector).

Two callers need users the last run did not store as such: a person scored on request, and the
model's training, which hides a share of each user's stars and rebuilds the user from the rest
(rerunning dbt for every hold-out would cost a scratch warehouse per fold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from octorec.embeddings.users import user_semantic_vectors
from octorec.features import interaction_matrix
from octorec.scoring.inputs import ProjectFeatures, UserFeatures

TOP_LABELS = 5
"""Labels kept per kind from a user's known projects (dbt vars `user_top_categories`,
`user_top_tech_stack`)."""


@dataclass(frozen=True)
class Profile:
    """What is known of one person."""

    login: str
    known: Sequence[str] = ()
    """Catalogue projects they starred or own, by exact catalogue name (others are ignored)."""
    profile_vector: np.ndarray | None = None
    """The unit-length vector of their profile text, when they wrote one."""
    declared_categories: Sequence[str] = field(default_factory=tuple)
    """Categories they declared, already mapped to taxonomy labels."""
    declared_tech_stack: Sequence[str] = field(default_factory=tuple)
    """Tech stack they declared, already mapped to taxonomy labels."""


def top_labels(labels: Sequence[Sequence[str]], rows: Sequence[int], top: int) -> list[str]:
    """The `top` most frequent labels among the projects at `rows` (ties by byte order),
    returned in byte order: `dbt_user_embeddings_data`'s rule for users who declared none."""
    counts = Counter(label for row in rows for label in labels[row])
    ranked = sorted(counts, key=lambda label: (-counts[label], label.encode()))
    return sorted(ranked[:top], key=str.encode)


def profile_features(
    profiles: Sequence[Profile],
    projects: ProjectFeatures,
    profile_weight: float,
    top_categories: int = TOP_LABELS,
    top_tech_stack: int = TOP_LABELS,
    columns: Mapping[str, int] | None = None,
) -> UserFeatures:
    """The scorer's input for `profiles`, against `projects` (with their semantic vectors).

    Each kind of label is the declared one when the person declared any, else the most frequent
    among their known projects; the semantic vector blends the mean of the known projects'
    vectors with the profile vector (`user_semantic_vectors`, weight `USER_PROFILE_WEIGHT`).
    """
    # `columns`: each project's row by name, when the caller keeps one (a `ScoringContext`).
    column = columns if columns is not None else {n: j for j, n in enumerate(projects.names)}
    known = interaction_matrix([list(p.known) for p in profiles], column)
    dimensions = projects.semantic.shape[1]
    profile_vectors = np.zeros((len(profiles), dimensions), dtype=np.float32)
    has_profile = np.zeros(len(profiles), dtype=bool)
    for i, person in enumerate(profiles):
        if person.profile_vector is not None:
            profile_vectors[i] = person.profile_vector
            has_profile[i] = True
    semantic, _ = user_semantic_vectors(
        known,
        np.asarray(projects.semantic, dtype=np.float32),
        profile_vectors,
        has_profile,
        profile_weight,
    )
    categories, tech_stack = [], []
    for i, person in enumerate(profiles):
        rows = known.indices[known.indptr[i] : known.indptr[i + 1]].tolist()
        categories.append(
            sorted(set(person.declared_categories), key=str.encode)
            or top_labels(projects.categories, rows, top_categories)
        )
        tech_stack.append(
            sorted(set(person.declared_tech_stack), key=str.encode)
            or top_labels(projects.tech_stack, rows, top_tech_stack)
        )
    return UserFeatures(
        logins=[p.login for p in profiles],
        semantic=semantic,
        categories=categories,
        tech_stack=tech_stack,
        known=known,
    )

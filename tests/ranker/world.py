"""A synthetic world whose right answer is known: each user stars mostly projects in one
language, while meaning, labels and popularity carry no information about which."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from octorec.scoring.inputs import ProjectFeatures
from octorec.scoring.profiles import Profile

LANGUAGES = ("Go", "Rust", "Python", "Haskell", "Zig", "Elixir")


def language_world(
    n_users: int = 40, n_projects: int = 180, seed: int = 0, stars: int = 16
) -> tuple[list[Profile], ProjectFeatures]:
    """Users whose stars are 90% in their favourite language and 10% anywhere; semantic vectors,
    labels and popularity are drawn independently of the language."""
    rng = np.random.default_rng(seed)
    dimensions = 8
    semantic = rng.normal(size=(n_projects, dimensions))
    semantic = (semantic / np.linalg.norm(semantic, axis=1, keepdims=True)).astype(np.float32)
    language = rng.integers(0, len(LANGUAGES), size=n_projects)
    labels = ["web", "ml", "cli", "db"]
    newest = datetime(2026, 11, 1, tzinfo=UTC)
    projects = ProjectFeatures(
        names=[f"owner{i}/p{i}" for i in range(n_projects)],
        semantic=semantic,
        categories=[[labels[i % 4]] for i in range(n_projects)],
        tech_stack=[[labels[(i // 4) % 4]] for i in range(n_projects)],
        popularity=rng.random(n_projects).astype(np.float32),
        languages=[LANGUAGES[x] for x in language],
        pushed_at=[newest - timedelta(days=int(d)) for d in rng.integers(0, 900, n_projects)],
    )
    profiles = []
    for user in range(n_users):
        favourite = np.nonzero(language == user % len(LANGUAGES))[0]
        inside = rng.choice(favourite, size=min(len(favourite), int(0.9 * stars)), replace=False)
        outside = rng.choice(n_projects, size=stars - len(inside), replace=False)
        chosen = sorted(set(inside.tolist()) | set(outside.tolist()))
        profiles.append(Profile(login=f"u{user}", known=[projects.names[j] for j in chosen]))
    return profiles, projects

"""A synthetic catalogue with topic clusters, and users who star within their topics."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from octorec.scoring.inputs import ProjectFeatures, UserFeatures

LABELS = ["web", "ml", "cli", "db", "game", "infra"]


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


def synthetic_world(
    n_users: int, n_projects: int, seed: int = 0, dimensions: int = 16
) -> tuple[UserFeatures, ProjectFeatures]:
    """Users 0 and 1 know nothing (1 has labels, 0 has nothing at all); every 7th project is
    ineligible; the rest star 2 to 30 projects near one of 8 topic centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, dimensions))
    topic = rng.integers(0, 8, size=n_projects)
    semantic = _unit(centres[topic] + 0.6 * rng.normal(size=(n_projects, dimensions)))

    def labels() -> list[str]:
        return [str(x) for x in rng.choice(LABELS, size=rng.integers(0, 3), replace=False)]

    projects = ProjectFeatures(
        names=[f"p{i}" for i in range(n_projects)],
        semantic=semantic,
        categories=[labels() for _ in range(n_projects)],
        tech_stack=[labels() for _ in range(n_projects)],
        popularity=rng.random(n_projects).astype(np.float32),
        eligible=np.arange(n_projects) % 7 != 3,
    )
    rows, columns = [], []
    for user in range(2, n_users):
        liked = np.nonzero(topic == rng.integers(0, 8))[0]
        chosen = rng.choice(liked, size=min(len(liked), int(rng.integers(2, 31))), replace=False)
        rows += [user] * len(chosen)
        columns += chosen.tolist()
    known = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(n_users, n_projects)
    )
    user_semantic = _unit(
        np.asarray(known @ semantic) + 1e-3 * rng.normal(size=(n_users, dimensions))
    )
    user_semantic[0] = 0.0
    users = UserFeatures(
        logins=[f"u{i}" for i in range(n_users)],
        semantic=user_semantic,
        categories=[[], ["web"], *[labels() for _ in range(n_users - 2)]],
        tech_stack=[[], ["db"], *[labels() for _ in range(n_users - 2)]],
        known=known,
    )
    return users, projects

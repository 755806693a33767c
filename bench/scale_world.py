"""A synthetic world for the scoring benchmarks: the 125k real repositories, synthetic users.

Projects are the first `projects` rows of `../shared/data/scale/repos_125k.csv` (most starred
first), embedded from their name and description with `octorec embed` (cached under
`data/bench/`), labelled with the dbt taxonomy seeds' keywords and aliases found in their text,
with the pipeline's popularity (log stars over the maximum). Users are synthesised: each picks
one to three topics (projects grouped by their nearest of 256 random directions), stars 1 to 200
projects (geometric, mean about 12) drawn within those topics with probability growing with
stars, and gets the mean vector of what they starred and the three most common labels of it.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from octorec.scoring.inputs import ProjectFeatures, UserFeatures

ROOT = Path(__file__).resolve().parents[1]
REPOS = ROOT.parent / "shared" / "data" / "scale" / "repos_125k.csv"
CACHE = ROOT / "data" / "bench"
SEEDS = ROOT / "dbt" / "seeds"
TOPICS = 256


def read_repositories(path: Path = REPOS) -> tuple[list[str], np.ndarray, list[str]]:
    """Names, star counts and texts (name and description) of every repository."""
    names, stars, texts = [], [], []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            names.append(row["full_name"])
            stars.append(float(row["stars"] or 0))
            readable = row["full_name"].split("/")[-1].replace("-", " ").replace("_", " ")
            texts.append(" ".join(f"{readable}: {row['description'] or ''}".split()))
    return names, np.asarray(stars), texts


def project_vectors(texts: list[str]) -> np.ndarray:
    """The texts' int8-ONNX embeddings, from `octorec embed`, cached by the texts' hash."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    output = CACHE / f"repos-{len(texts)}-{digest}.npy"
    if not output.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        source = CACHE / f"repos-{len(texts)}-{digest}.txt"
        source.write_text("\n".join(texts) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "octorec.cli", "embed", "--input", str(source)]
        subprocess.run([*command, "--output", str(output)], check=True)
        source.unlink()
    return np.load(output, mmap_mode="r")


def _taxonomy() -> tuple[dict[str, str], dict[str, str]]:
    with (SEEDS / "taxonomy_categories.csv").open(encoding="utf-8") as handle:
        categories = {row["keyword"]: row["category"] for row in csv.DictReader(handle)}
    with (SEEDS / "taxonomy_tech_stack.csv").open(encoding="utf-8") as handle:
        tech = {row["alias"]: row["tech_stack"] for row in csv.DictReader(handle)}
    return categories, tech


def labels(texts: list[str]) -> tuple[list[list[str]], list[list[str]]]:
    """Categories and tech stack whose keywords or aliases appear as words in each text."""
    categories, tech = _taxonomy()
    words_of = [set(re.findall(r"[a-z0-9+#.]+", text.lower())) for text in texts]
    single_categories = {k: v for k, v in categories.items() if " " not in k}
    return (
        [
            sorted({single_categories[w] for w in words if w in single_categories})
            for words in words_of
        ],
        [sorted({tech[w] for w in words if w in tech}) for words in words_of],
    )


def synthesise_users(
    vectors: np.ndarray,
    stars: np.ndarray,
    categories: list[list[str]],
    tech_stack: list[list[str]],
    count: int,
    seed: int = 0,
) -> UserFeatures:
    """`count` users who star within one to three topics, popular projects more often."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(TOPICS, vectors.shape[1])).astype(np.float32)
    topic = np.argmax(np.asarray(vectors) @ directions.T, axis=1)
    members = [np.nonzero(topic == t)[0] for t in range(TOPICS)]
    weights = [np.sqrt(1 + stars[m]) / np.sqrt(1 + stars[m]).sum() for m in members]
    sizes = np.array([len(m) for m in members], dtype=np.float64)
    rows, columns = [], []
    for user in range(count):
        n = min(200, int(rng.geometric(1 / 12)))
        chosen_topics = rng.choice(TOPICS, size=int(rng.integers(1, 4)), p=sizes / sizes.sum())
        picks: set[int] = set()
        for t in chosen_topics:
            take = min(len(members[t]), math.ceil(n / len(chosen_topics)))
            picks.update(rng.choice(members[t], size=take, replace=False, p=weights[t]).tolist())
        rows += [user] * len(picks)
        columns += sorted(picks)
    known = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, columns)), shape=(count, len(vectors))
    )
    means = np.asarray(known @ vectors, dtype=np.float32)
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)

    def top_labels(of: list[list[str]], user: int) -> list[str]:
        items = known.indices[known.indptr[user] : known.indptr[user + 1]]
        counted = Counter(label for item in items for label in of[item])
        return sorted(label for label, _ in counted.most_common(3))

    return UserFeatures(
        logins=[f"user-{u}" for u in range(count)],
        semantic=means,
        categories=[top_labels(categories, u) for u in range(count)],
        tech_stack=[top_labels(tech_stack, u) for u in range(count)],
        known=known,
    )


def world(users: int, projects: int, seed: int = 0) -> tuple[UserFeatures, ProjectFeatures]:
    """The first `projects` repositories and `users` synthetic users."""
    names, stars, texts = read_repositories()
    vectors = np.ascontiguousarray(project_vectors(texts)[:projects], dtype=np.float32)
    names, stars, texts = names[:projects], stars[:projects], texts[:projects]
    categories, tech_stack = labels(texts)
    log_stars = np.log1p(stars)
    popularity = (log_stars / log_stars.max()).astype(np.float32)
    project_features = ProjectFeatures(
        names=names,
        semantic=vectors,
        categories=categories,
        tech_stack=tech_stack,
        popularity=popularity,
    )
    return synthesise_users(vectors, stars, categories, tech_stack, users, seed), project_features

"""Benchmark: encoder throughput and fidelity against the sentence-transformers reference.

On 5,000 real project descriptions from the sample (the first 5,000 non-empty ones of
`repos.csv`), in one run:

- reference: `SentenceTransformer(path).encode(texts)` with default settings, timed after the
  model is loaded and warmed up on one text;
- each octorec backend through `octorec embed --input TEXTS --output OUT.npy --backend NAME`
  (the command users call), also after one warm-up call that loads and, on first use, exports
  the model.

For each backend: texts per second, the ratio to the reference, the mean (and minimum) cosine
to the reference vectors and the mean overlap of every text's 10 nearest neighbours among the
5,000 with the reference's. Prints JSON.

    python bench/embedding_throughput.py [--repos ../shared/data/github-sample/repos.csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from machine import describe_machine
from octorec.cli import main as octorec
from octorec.constants import MODEL_NAME
from octorec.embeddings.encoder import resolve_model_path

REPOS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "github-sample" / "repos.csv"
)
BACKENDS = ("torch", "onnx", "onnx-int8")
NEIGHBOURS = 10


def descriptions(repos: Path, count: int) -> list[str]:
    """The first `count` non-empty descriptions, one line each."""
    with repos.open(newline="", encoding="utf-8") as handle:
        texts = [" ".join(row["description"].split()) for row in csv.DictReader(handle)]
    return [text for text in texts if text][:count]


def reference(texts: list[str]) -> tuple[np.ndarray, float]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(resolve_model_path(MODEL_NAME)))
    model.encode(texts[:1])
    started = time.perf_counter()
    vectors = model.encode(texts)
    seconds = time.perf_counter() - started
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), seconds


def nearest(vectors: np.ndarray) -> np.ndarray:
    similarities = vectors @ vectors.T
    np.fill_diagonal(similarities, -np.inf)
    return np.argpartition(-similarities, NEIGHBOURS, axis=1)[:, :NEIGHBOURS]


def embed_with_cli(texts_file: Path, output: Path, backend: str) -> float:
    octorec(["embed", "--input", str(texts_file), "--output", str(output), "--backend", backend])
    started = time.perf_counter()
    status = octorec(
        ["embed", "--input", str(texts_file), "--output", str(output), "--backend", backend]
    )
    if status != 0:
        raise SystemExit(f"octorec embed --backend {backend} failed")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=Path, default=REPOS)
    parser.add_argument("--texts", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    texts = descriptions(args.repos, args.texts)
    reference_vectors, reference_seconds = reference(texts)
    reference_neighbours = nearest(reference_vectors)
    result: dict[str, object] = {
        "benchmark": "embedding_throughput",
        "texts": len(texts),
        "reference": {
            "what": "SentenceTransformer(path).encode(texts), default settings",
            "seconds": round(reference_seconds, 2),
            "texts_per_second": round(len(texts) / reference_seconds, 1),
        },
    }
    with tempfile.TemporaryDirectory() as scratch:
        texts_file = Path(scratch) / "texts.txt"
        texts_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
        for backend in BACKENDS:
            output = Path(scratch) / f"{backend}.npy"
            seconds = embed_with_cli(texts_file, output, backend)
            vectors = np.load(output)
            cosines = np.sum(vectors * reference_vectors, axis=1)
            overlap = np.mean(
                [
                    len(set(mine) & set(theirs)) / NEIGHBOURS
                    for mine, theirs in zip(nearest(vectors), reference_neighbours, strict=True)
                ]
            )
            result[backend] = {
                "seconds": round(seconds, 2),
                "texts_per_second": round(len(texts) / seconds, 1),
                "ratio_to_reference": round(reference_seconds / seconds, 2),
                "mean_cosine_to_reference": round(float(cosines.mean()), 4),
                "min_cosine_to_reference": round(float(cosines.min()), 4),
                "nearest_10_overlap": round(float(overlap), 4),
            }
    result["targets"] = {
        "onnx-int8 at least 3x the reference": result["onnx-int8"]["ratio_to_reference"] >= 3,  # type: ignore[index]
        "mean cosine >= 0.99": result["onnx-int8"]["mean_cosine_to_reference"] >= 0.99,  # type: ignore[index]
        "nearest-10 overlap >= 0.9": result["onnx-int8"]["nearest_10_overlap"] >= 0.9,  # type: ignore[index]
    }
    result["machine"] = describe_machine()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

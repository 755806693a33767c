"""`octorec embed`: one text per line in, one normalised vector per line out (a `.npy` file)."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from octorec.embeddings.encoder import TextEncoder


class TextFileError(ValueError):
    """The input cannot be read as UTF-8 text or the output cannot be written; says which."""


@dataclass(frozen=True)
class EmbeddedFile:
    """What one `embed_text_file` call did."""

    texts: int
    seconds: float
    backend: str
    device: str

    @property
    def texts_per_second(self) -> float:
        """Throughput of the whole call: reading, tokenising, encoding and writing."""
        return self.texts / self.seconds if self.seconds else 0.0


def read_texts(path: Path) -> list[str]:
    """Every line of `path` (without its line break); a blank line is an empty text, kept."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TextFileError(f"{path}: cannot read ({error.strerror})") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final line break ends the last line; it starts no new one
    texts = []
    for number, line in enumerate(lines, start=1):
        try:
            texts.append(line.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError as error:
            raise TextFileError(
                f"{path}, line {number}: not UTF-8 (byte {error.start + 1}); expected UTF-8 text"
            ) from None
    return texts


def write_vectors(path: Path, vectors: np.ndarray) -> None:
    """Save `vectors` as `.npy` at exactly `path`, atomically (temporary file, then rename)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise TextFileError(f"{path}: folder {folder} does not exist")
    partial: str | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".partial", delete=False) as handle:
            partial = handle.name
            np.save(handle, vectors)
        os.chmod(partial, 0o644)  # a temporary file is private; the result is not
        os.replace(partial, path)
    except OSError as error:
        if partial is not None and os.path.exists(partial):
            os.unlink(partial)
        raise TextFileError(f"{path}: cannot write ({error.strerror})") from None


def embed_text_file(source: Path, destination: Path, encoder: TextEncoder) -> EmbeddedFile:
    """Embed each line of `source` with `encoder` and write the rows, line order kept."""
    started = time.perf_counter()
    texts = read_texts(source)
    write_vectors(destination, encoder.encode(texts))
    return EmbeddedFile(
        texts=len(texts),
        seconds=time.perf_counter() - started,
        backend=str(encoder.backend),
        device=encoder.device,
    )

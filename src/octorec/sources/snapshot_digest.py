"""A snapshot directory's content hash: what the snapshot sensor compares between evaluations.

The hash covers exactly the files `SnapshotSource` reads (`repos.csv`, `user_stars.csv` and,
when present, `users.csv`), byte for byte, and nothing else: a file's modification time, a
`touch`, a copy that keeps the bytes, or another file in the directory (notes, a SOURCES.md)
never changes it; one byte changed in one of the three, `users.csv` appearing or going away
always does. SHA-256 of the bytes, read in chunks, so memory stays flat for any file size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from octorec.sources.snapshot import REPOS_FILE, STARS_FILE, USERS_FILE

REQUIRED_FILES = (REPOS_FILE, STARS_FILE)
OPTIONAL_FILES = (USERS_FILE,)
CHUNK_BYTES = 1 << 20
"""Bytes read at a time while hashing."""


class SnapshotDigestError(OSError):
    """The snapshot cannot be hashed (no directory, a required file missing, a file unreadable);
    the message names the path."""


@dataclass(frozen=True)
class SnapshotDigest:
    """The content hash of a snapshot directory and the size of each file it covers."""

    sha256: str
    bytes_by_file: dict[str, int]

    @property
    def short(self) -> str:
        """The first 12 hexadecimal digits, for messages."""
        return self.sha256[:12]


def snapshot_digest(directory: Path) -> SnapshotDigest:
    """Hash the snapshot files of `directory` by content.

    Raises:
        SnapshotDigestError: the directory does not exist or is not a directory, `repos.csv` or
            `user_stars.csv` is missing, or a file cannot be read.
    """
    directory = Path(directory)
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise SnapshotDigestError(f"snapshot directory {directory} {what} (OCTOREC_SNAPSHOT_DIR)")
    total = hashlib.sha256()
    sizes: dict[str, int] = {}
    for name in (*REQUIRED_FILES, *OPTIONAL_FILES):
        path = directory / name
        if name in OPTIONAL_FILES and not path.exists():
            total.update(f"{name}\0absent\0".encode())
            continue
        if not path.exists():
            raise SnapshotDigestError(f"snapshot directory {directory} has no {name}")
        digest, size = _file_sha256(path)
        sizes[name] = size
        total.update(f"{name}\0{size}\0{digest}\0".encode())
    return SnapshotDigest(sha256=total.hexdigest(), bytes_by_file=sizes)


def _file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        raise SnapshotDigestError(f"cannot read {path}: {error.strerror or error}") from None
    return digest.hexdigest(), size

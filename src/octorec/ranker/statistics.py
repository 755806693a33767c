"""The catalogue statistics a run's pair features read: how many users know each project, and
the reference time push ages are measured from.

They are computed from everyone's known projects once per run (in training: from the fold's
training interactions only) and passed in, so a single new user scored at serve time sees the
statistics of the run, not a catalogue of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp

from octorec.scoring.inputs import ProjectFeatures


@dataclass(frozen=True)
class CatalogueStats:
    """Per-project statistics of a run, aligned with the scored catalogue."""

    interactions: np.ndarray
    """How many users know each project (float32)."""
    newest_push: datetime | None
    """The newest push of the catalogue; push ages count back from it (None: no push known)."""

    @classmethod
    def from_run(cls, known: sp.csr_matrix, projects: ProjectFeatures) -> CatalogueStats:
        """From everyone's users × projects known matrix and the catalogue's push times."""
        counts = np.asarray((known > 0).sum(axis=0), dtype=np.float32).ravel()
        if len(counts) != len(projects.names):
            raise ValueError(
                f"the known matrix has {len(counts)} columns for {len(projects.names)} projects"
            )
        return cls(interactions=counts, newest_push=newest(projects.pushed_at))


def newest(times: Sequence[datetime | None] | None) -> datetime | None:
    """The latest of `times`, None when none is known."""
    known = [t for t in times or () if t is not None]
    return max(known) if known else None


def days_since_push(projects: ProjectFeatures, reference: datetime | None) -> np.ndarray:
    """Each project's days from its last push to `reference` (NaN where either is unknown)."""
    result = np.full(len(projects.names), np.nan, dtype=np.float32)
    if reference is None or projects.pushed_at is None:
        return result
    for i, pushed in enumerate(projects.pushed_at):
        if pushed is not None:
            result[i] = (reference - pushed).total_seconds() / 86_400.0
    return result

"""Chooses the source implementation named by the settings."""

from __future__ import annotations

from octorec.settings import Settings, SourceKind
from octorec.sources.base import GitHubSource, SourceUnavailableError
from octorec.sources.snapshot import SnapshotSource


def open_source(settings: Settings) -> GitHubSource:
    """Return the source `OCTOREC_SOURCE` selects."""
    if settings.source is SourceKind.SNAPSHOT:
        return SnapshotSource(settings.snapshot_dir)
    raise SourceUnavailableError(
        "OCTOREC_SOURCE=github (the live GitHub API) is not available yet: it is planned in the "
        "live-ingestion issue. Use OCTOREC_SOURCE=snapshot with OCTOREC_SNAPSHOT_DIR pointing at "
        "a directory of repos.csv and user_stars.csv."
    )

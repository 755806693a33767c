"""Chooses the source implementation named by the settings."""

from __future__ import annotations

from collections.abc import Callable

from octorec.settings import Settings, SourceKind
from octorec.sources.base import GitHubSource
from octorec.sources.snapshot import SnapshotSource
from octorec.warehouse import Warehouse


def open_source(
    settings: Settings,
    warehouse: Warehouse | None = None,
    on_progress: Callable[..., None] | None = None,
) -> GitHubSource:
    """Return the source `OCTOREC_SOURCE` selects.

    The live source remembers what it stored (and its ETags) in `warehouse` when one is given,
    so a run only fetches what is new or changed.
    """
    if settings.source is SourceKind.SNAPSHOT:
        return SnapshotSource(settings.snapshot_dir, allow_empty=settings.allow_empty_snapshot)
    from octorec.github.config import scrape_config
    from octorec.github.source import GitHubApiSource
    from octorec.warehouse.scrape_state import WarehouseScrapeState

    state = WarehouseScrapeState(warehouse) if warehouse is not None else None
    return GitHubApiSource(
        scrape_config(settings), state=state, cache=state, on_progress=on_progress
    )

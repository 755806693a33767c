"""Where GitHub data comes from: an offline snapshot directory or, later, the live API."""

from octorec.sources.base import (
    GitHubSource,
    RejectedRow,
    SourceData,
    SourceUnavailableError,
)
from octorec.sources.factory import open_source

__all__ = [
    "GitHubSource",
    "RejectedRow",
    "SourceData",
    "SourceUnavailableError",
    "open_source",
]

"""octorec: recommends open-source projects to developers."""

__version__ = "0.1.0"

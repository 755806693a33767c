"""Small helpers that turn results into Dagster metadata people like to read."""

from collections.abc import Sequence
from typing import Any

import numpy as np

BAR_WIDTH = 30


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; `|` and newlines in cells are escaped, floats shown to 3 places."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return "\n".join(lines)


def histogram_markdown(values: Sequence[float], edges: Sequence[float]) -> str:
    """Counts of `values` in the bins `[edges[i], edges[i+1])` (the last bin closed), as a
    Markdown table with a text bar per bin; values outside the edges are counted as such."""
    array = np.asarray(values, dtype=np.float64)
    counts, _ = np.histogram(array, bins=np.asarray(edges, dtype=np.float64))
    outside = int(np.count_nonzero((array < edges[0]) | (array > edges[-1])))
    peak = int(counts.max(initial=0)) or 1
    rows: list[list[Any]] = [
        [f"{edges[i]:.1f}–{edges[i + 1]:.1f}", int(count), "█" * round(BAR_WIDTH * count / peak)]
        for i, count in enumerate(counts.tolist())
    ]
    if outside:
        rows.append(["outside", outside, ""])
    return markdown_table(["score", "pairs", ""], rows)

"""Known answers for the Markdown that assets attach to their materialisations."""

from octorec.defs.metadata import histogram_markdown, markdown_table


def test_histogram_counts_each_value_once_and_closes_the_last_bin() -> None:
    text = histogram_markdown([0.0, 0.05, 0.1, 0.45, 0.5, 1.0, 1.2], [0.0, 0.5, 1.0])
    lines = text.splitlines()
    assert lines[0] == "| score | pairs |  |"
    assert lines[2].startswith("| 0.0–0.5 | 4 | ")
    assert lines[3].startswith("| 0.5–1.0 | 2 | ")
    assert lines[4] == "| outside | 1 |  |"
    assert lines[2].count("█") == 30 and lines[3].count("█") == 15  # scaled to the peak


def test_markdown_cells_are_escaped() -> None:
    assert markdown_table(["a"], [["x|y\nz"]]).splitlines()[2] == "| x\\|y z |"

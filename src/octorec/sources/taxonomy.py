"""The labels users may declare: the dbt project's taxonomy seeds, matched as dbt matches them.

`dbt_user_embeddings_data` keeps a declared category or tech-stack entry only when its padded
tokens (`padded_tokens` in `dbt/macros/portable.sql`) equal those of a taxonomy name or alias;
anything else is dropped there. This module finds those labels beforehand, so the run can name
them instead of losing them without a word.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from octorec import constants as c

SEEDS_DIR = Path(__file__).resolve().parents[3] / "dbt" / "seeds"
"""The seeds of the dbt project (`octorec.dbt_project.DBT_PROJECT_DIR / "seeds"`)."""

_NOT_A_TOKEN = re.compile(r"[^a-z0-9+#]+")

CATEGORY = "category"
TECH_STACK = "tech_stack"


def padded_tokens(value: str) -> str:
    """`value` as dbt's `padded_tokens` macro normalises it: `' machine learning '`."""
    return f" {_NOT_A_TOKEN.sub(' ', value.lower()).strip(' ')} "


@dataclass(frozen=True)
class Taxonomy:
    """The padded tokens a declared label may have, per kind (`category`, `tech_stack`)."""

    tokens: dict[str, frozenset[str]]
    files: dict[str, Path]
    labels: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    """Per kind, padded tokens → the taxonomy labels they name (`stg_taxonomy`'s rows)."""

    def knows(self, kind: str, label: str) -> bool:
        """Whether dbt maps `label` of `kind` to a taxonomy entry."""
        return padded_tokens(label) in self.tokens[kind]

    def labels_of(self, kind: str, value: str) -> frozenset[str]:
        """The taxonomy labels a declared `value` of `kind` maps to, as
        `dbt_user_embeddings_data` maps them (none when dbt would drop it)."""
        return self.labels[kind].get(padded_tokens(value), frozenset())

    def all_labels(self, kind: str) -> frozenset[str]:
        """Every label of `kind` the taxonomy can give."""
        return frozenset(label for names in self.labels[kind].values() for label in names)


def _column_values(path: Path, columns: Iterable[str]) -> set[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    values = {padded_tokens(row[column] or "") for row in rows for column in columns}
    return values - {padded_tokens("")}


def _labels_by_tokens(path: Path, label: str, columns: Iterable[str]) -> dict[str, frozenset[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    found: dict[str, set[str]] = {}
    for row in rows:
        for column in columns:
            tokens = padded_tokens(row[column] or "")
            if tokens != padded_tokens("") and row[label]:
                found.setdefault(tokens, set()).add(row[label])
    return {tokens: frozenset(names) for tokens, names in found.items()}


@cache
def load_taxonomy(seeds_dir: Path = SEEDS_DIR) -> Taxonomy:
    """The taxonomy in `seeds_dir` (read once per process; the seeds ship with the code)."""
    categories = seeds_dir / f"{c.TAXONOMY_CATEGORIES}.csv"
    tech_stack = seeds_dir / f"{c.TAXONOMY_TECH_STACK}.csv"
    return Taxonomy(
        tokens={
            CATEGORY: frozenset(_column_values(categories, ("category", "keyword"))),
            TECH_STACK: frozenset(_column_values(tech_stack, ("tech_stack", "alias"))),
        },
        files={CATEGORY: categories, TECH_STACK: tech_stack},
        labels={
            CATEGORY: _labels_by_tokens(categories, "category", ("category", "keyword")),
            TECH_STACK: _labels_by_tokens(tech_stack, "tech_stack", ("tech_stack", "alias")),
        },
    )

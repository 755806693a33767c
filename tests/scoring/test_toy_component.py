"""A component added through its declaration alone is scored (by both recommenders), stored
(its columns in the warehouse table) and explained (its phrase in the reason)."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from octorec import constants as c
from octorec.scoring.components import Component, Reason, ScoringInputs
from octorec.scoring.explanations import reason
from octorec.scoring.recommend import recommend
from octorec.scoring.registry import COMPONENTS
from octorec.scoring.rows import recommendations_table
from octorec.scoring.store import ensure_component_columns
from octorec.settings import Retrieval, ScorerSettings
from octorec.warehouse import open_warehouse

from .synthetic import synthetic_world

BASE = {"semantic": 0.4, "tech_stack": 0.2, "collaborative": 0.4}
COLD = {"semantic": 0.25, "category": 0.45, "tech_stack": 0.5, "popularity": 0.1}
PHRASE = "pushed recently"


class RecencyScores:
    """A per-project value in [0, 1] (how recently the project was pushed), like popularity."""

    unit_block = False

    def __init__(self, values: np.ndarray) -> None:
        self.values = values.astype(np.float32)

    def block(self, start: int, stop: int) -> np.ndarray:
        return np.broadcast_to(self.values, (stop - start, len(self.values)))

    def pairs(self, user_index: np.ndarray, project_index: np.ndarray) -> np.ndarray:
        return self.values[project_index]

    def project_block(self, projects: np.ndarray | slice) -> np.ndarray:
        return self.values[projects].reshape(-1, 1)

    def query_block(self, users: np.ndarray) -> np.ndarray:
        return np.ones((len(users), 1), dtype=np.float32)


def _recency(names: list[str]) -> np.ndarray:
    # A value only the declaration knows: project pN is pushed more recently the larger N is.
    numbers = np.array([int(name[1:]) for name in names], dtype=np.float32)
    return numbers / max(1.0, float(numbers.max()))


def _prepare(inputs: ScoringInputs) -> RecencyScores:
    return RecencyScores(_recency(list(inputs.projects.names)))


RECENCY = Component("recency", _prepare, reason=Reason(PHRASE, 0.3, after_matches=True))


@pytest.fixture
def recency() -> Iterator[Component]:
    with COMPONENTS.registered(RECENCY) as component:
        yield component
    assert "recency" not in COMPONENTS


@pytest.mark.parametrize("retrieval", [Retrieval.EXACT, Retrieval.ANN])
def test_the_toy_component_is_scored_as_its_weight_says(recency, retrieval) -> None:
    users, projects = synthetic_world(80, 600, seed=6)
    settings = ScorerSettings(retrieval=retrieval, ann_candidates=60)
    values = _recency(list(projects.names))

    without = recommend(users, projects, BASE, 5, 0.0, settings, COLD)
    heavy = recommend(users, projects, {**BASE, "recency": 5.0}, 5, 0.0, settings, COLD)

    assert np.array_equal(without.components["recency"], values[without.project_index])
    # The weighted mean: the weights sum to 1 + 5.
    weighted = sum(BASE[n] * heavy.components[n] for n in BASE) + 5.0 * heavy.components["recency"]
    expected = weighted / 6.0
    knows = ~users.knows_nothing()[heavy.user_index]
    np.testing.assert_allclose(heavy.score[knows], expected[knows], atol=1e-5)
    # Weighted heavily, it decides: the recommended projects are much more recent.
    assert values[heavy.project_index[knows]].mean() > values[without.project_index].mean() + 0.2
    assert values[heavy.project_index[knows]].mean() > 0.9


def test_the_toy_component_is_stored_in_its_own_columns(recency, tmp_path: Path) -> None:
    users, projects = synthetic_world(30, 200, seed=7)
    weights = {**BASE, "recency": 1.0}
    result = recommend(users, projects, weights, 5, 0.0, cold_start_weights=COLD)
    table = recommendations_table(result, users, projects, weights, COLD, "run")
    assert {"recency_similarity", "recency_weight"} <= set(table.column_names)

    with open_warehouse(tmp_path / "octorec.duckdb") as warehouse:
        ensure_component_columns(warehouse)
        ensure_component_columns(warehouse)  # idempotent
        warehouse.replace(c.USER_PROJECT_SIMILARITIES, table)
        stored = warehouse.query(
            f"SELECT user_login, project_full_name, recency_similarity, recency_weight "
            f"FROM {c.USER_PROJECT_SIMILARITIES} ORDER BY user_login, rank"
        ).to_pylist()
        staged = warehouse.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [f"{c.USER_PROJECT_SIMILARITIES}{c.STAGED_SUFFIX}"],
        )
    assert len(stored) == len(result) > 0
    values = dict(zip(projects.names, _recency(list(projects.names)).tolist(), strict=True))
    for row in stored:
        assert row["recency_similarity"] == pytest.approx(values[row["project_full_name"]])
    knows = {users.logins[i] for i in np.nonzero(~users.knows_nothing())[0]}
    # Stored as its share of the weights (1 of 2), so that score = Σ weight × component.
    assert {r["recency_weight"] for r in stored if r["user_login"] in knows} == {0.5}
    assert "recency_weight" in staged.column("column_name").to_pylist()


def test_the_toy_component_is_named_in_the_reason_when_it_carries_the_score(recency) -> None:
    carried = reason({"semantic": 0.2, "recency": 0.5}, ["web"], [], "a/b")
    assert carried == f"like a/b, which you starred or own; matches web; {PHRASE}"
    assert PHRASE not in reason({"semantic": 0.8, "recency": 0.1}, [], [], None)

    users, projects = synthetic_world(30, 200, seed=8)
    weights = {"semantic": 0.1, "recency": 1.0}
    result = recommend(users, projects, weights, 3, 0.0, cold_start_weights=COLD)
    table = recommendations_table(result, users, projects, weights, COLD, "run")
    reasons = table.column("reason").to_pylist()
    knows = ~users.knows_nothing()[result.user_index]
    assert knows.any() and all(PHRASE in r for r, k in zip(reasons, knows, strict=True) if k)


def test_without_the_declaration_there_is_no_such_component() -> None:
    users, projects = synthetic_world(10, 50, seed=9)
    result = recommend(users, projects, BASE, 3, 0.0)
    assert "recency" not in result.components
    assert list(result.components) == list(COMPONENTS)
    with pytest.raises(ValueError, match=r"unknown components \['recency'\]"):
        recommend(users, projects, {**BASE, "recency": 1.0}, 3, 0.0)


def test_a_component_name_must_be_usable_as_a_column_name() -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        Component("recency; DROP TABLE x", _prepare)
    with pytest.raises(ValueError, match="registered already"):
        COMPONENTS.register(Component("semantic", _prepare))

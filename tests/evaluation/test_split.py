import pytest

from octorec.evaluation.split import holdout_split

INTERACTIONS = [("ann", f"p{i}") for i in range(10)] + [("bob", f"p{i}") for i in range(3)]


def test_a_fifth_is_held_out_for_users_with_enough_interactions() -> None:
    split = holdout_split(INTERACTIONS, fraction=0.2, seed=42)
    assert set(split.test) == {"ann"}  # bob has fewer than 5
    assert len(split.test["ann"]) == 2 and len(split.train["ann"]) == 8
    assert set(split.test["ann"]).isdisjoint(split.train["ann"])
    assert set(split.test["ann"]) | set(split.train["ann"]) == {f"p{i}" for i in range(10)}
    assert split.train["bob"] == ["p0", "p1", "p2"]
    assert split.test_interactions == 2


def test_the_split_is_fixed_by_the_seed_and_not_by_input_order() -> None:
    first = holdout_split(INTERACTIONS, seed=42)
    assert holdout_split(list(reversed(INTERACTIONS)), seed=42) == first
    assert holdout_split(INTERACTIONS, seed=42).test == {"ann": ["p0", "p7"]}  # pinned: seed 42
    assert any(holdout_split(INTERACTIONS, seed=s).test != first.test for s in range(1, 6))


def test_every_evaluated_user_keeps_something_to_learn_from() -> None:
    split = holdout_split([("cy", f"p{i}") for i in range(5)], fraction=0.99, seed=1)
    assert len(split.train["cy"]) == 1 and len(split.test["cy"]) == 4


def test_the_fraction_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        holdout_split(INTERACTIONS, fraction=1.0)

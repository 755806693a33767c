"""The user subsets of the robustness checks."""

import pytest

from octorec.evaluation.subsets import UserSubset
from octorec.sources.base import InteractionRecord, SourceData, UserRecord


def _data() -> SourceData:
    stars = {"ann": 5, "Bob": 3, "cid": 8, "dee": 1}
    return SourceData(
        users=[UserRecord(login=login) for login in stars],
        interactions=[
            InteractionRecord(user_login=login, repo_full_name=f"o/r{n}")
            for login, count in stars.items()
            for n in range(count)
        ],
    )


def test_most_stars_keeps_the_users_with_the_most_stars_and_only_their_stars():
    kept = UserSubset.parse("most-stars:2", None).apply(_data())
    assert {u.login for u in kept.users} == {"cid", "ann"}
    assert {i.user_login for i in kept.interactions} == {"cid", "ann"}
    assert len(kept.interactions) == 13


def test_a_sample_is_seeded_and_keeps_its_share():
    first = UserSubset.parse(None, 0.5).apply(_data())
    second = UserSubset.parse("all", 0.5).apply(_data())
    assert len(first.users) == 2
    assert [u.login for u in first.users] == [u.login for u in second.users]


def test_all_keeps_everything_and_the_report_says_which_users():
    data = _data()
    assert UserSubset.parse("all", None).apply(data) is data
    assert UserSubset.parse("most-stars:2", 0.5).describe() == "most-stars:2 sample:0.5 (seed 0)"


@pytest.mark.parametrize("spec", ["most-stars", "most-stars:0", "top:3", "most-stars:x"])
def test_a_bad_subset_is_refused_with_what_is_expected(spec: str):
    with pytest.raises(ValueError, match="most-stars:N"):
        UserSubset.parse(spec, None)

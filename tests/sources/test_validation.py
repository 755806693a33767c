from datetime import UTC, date, datetime

import pytest

from octorec.sources import validation as v


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("541915.0", 541915), ("12", 12), ("0", 0), ("", None), ("  ", None), (None, None)],
)
def test_optional_count_accepts_whole_numbers(raw: str | None, expected: int | None) -> None:
    assert v.optional_count(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1.5", "many", "nan", "inf"])
def test_optional_count_rejects_what_is_not_a_count(raw: str) -> None:
    with pytest.raises(v.InvalidField, match="non-negative whole number"):
        v.optional_count(raw)


@pytest.mark.parametrize("raw", ["torvalds/linux", "a.b/c-d_e", "x/.github"])
def test_full_name_accepts_owner_slash_name(raw: str) -> None:
    assert v.full_name(f"  {raw} ") == raw


@pytest.mark.parametrize("raw", ["linux", "a/b/c", "a /b", "", None, "ow ner/x"])
def test_full_name_rejects_anything_else(raw: str | None) -> None:
    with pytest.raises(v.InvalidField, match="owner/name"):
        v.full_name(raw)


@pytest.mark.parametrize("raw", ["Agu168", "a", "some-user", "x" * 39])
def test_login_accepts_github_logins(raw: str) -> None:
    assert v.login(raw) == raw


@pytest.mark.parametrize("raw", ["-leading", "has space", "x" * 40, "", "ü"])
def test_login_rejects_invalid_logins(raw: str) -> None:
    with pytest.raises(v.InvalidField, match="GitHub login"):
        v.login(raw)


def test_timestamps_are_parsed_to_utc() -> None:
    assert v.optional_timestamp("2018-05-09T12:03:18Z") == datetime(
        2018, 5, 9, 12, 3, 18, tzinfo=UTC
    )
    assert v.optional_timestamp("2018-05-09T14:03:18+02:00") == datetime(
        2018, 5, 9, 12, 3, 18, tzinfo=UTC
    )
    assert v.optional_timestamp("") is None
    with pytest.raises(v.InvalidField, match="ISO 8601"):
        v.optional_timestamp("yesterday")


def test_dates_flags_and_kinds() -> None:
    assert v.optional_date("2026-02-01") == date(2026, 2, 1)
    with pytest.raises(v.InvalidField, match="date like"):
        v.optional_date("02/01/2026")
    assert v.optional_flag("True") is True
    assert v.optional_flag("") is False
    with pytest.raises(v.InvalidField, match="true or false"):
        v.optional_flag("maybe")
    assert v.interaction_kind("") == "star"
    assert v.interaction_kind("OWN") == "own"
    with pytest.raises(v.InvalidField, match="star, own"):
        v.interaction_kind("fork")


def test_pipe_list_drops_blanks_and_repeats_keeping_order() -> None:
    assert v.pipe_list("b| a ||b|c") == ("b", "a", "c")
    assert v.pipe_list("") == ()

"""The candidate filters as masks: archived, forks, languages, push age, active projects."""

from datetime import UTC, datetime, timedelta

from octorec.scoring.candidates import candidate_masks
from octorec.settings import CandidateFilters

NEWEST = datetime(2026, 8, 1, tzinfo=UTC)
LANGUAGES = ["Python", "Go", None, "python", "Rust"]
FORKS = [False, True, False, None, False]
ARCHIVED = [False, False, True, False, None]
PUSHED = [NEWEST, NEWEST - timedelta(days=400), NEWEST - timedelta(days=100), None, NEWEST]


def _masks(**settings: object):
    return candidate_masks(LANGUAGES, FORKS, ARCHIVED, PUSHED, CandidateFilters(**settings))


def test_defaults_drop_only_archived_and_active_means_pushed_within_a_year() -> None:
    masks = _masks()
    assert masks.eligible.tolist() == [True, True, False, True, True]
    # 400 days is more than 12 months; a missing push date counts as stale.
    assert masks.active.tolist() == [True, False, False, False, True]


def test_forks_languages_and_push_age() -> None:
    assert _masks(exclude_forks=True).eligible.tolist() == [True, False, False, True, True]
    assert _masks(languages="python, rust").eligible.tolist() == [True, False, False, True, True]
    assert _masks(max_months_since_push=3).eligible.tolist() == [True, False, False, False, True]
    assert _masks(exclude_archived=False).eligible.tolist() == [True] * 5

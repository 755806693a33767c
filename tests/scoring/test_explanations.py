"""Reasons are built from the evidence: similar known project, matches, collaborative, popular."""

import numpy as np
import scipy.sparse as sp

from octorec.scoring.explanations import most_similar_known, reason


def test_the_most_similar_known_project_is_found_per_pair() -> None:
    semantic = np.array([[1, 0], [0, 1], [0.8, 0.6], [0.6, 0.8]], dtype=np.float32)
    known = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.float32))
    result = most_similar_known(known, semantic, np.array([0, 0, 1]), np.array([2, 3, 2]))
    assert result == [0, 1, None]  # project 2 is closest to 0, project 3 to 1; user 1 knows none


def test_a_reason_names_each_kind_of_evidence() -> None:
    text = reason(
        {
            "semantic": 0.2,
            "category": 0.1,
            "tech_stack": 0.1,
            "popularity": 0.05,
            "collaborative": 0.0,
        },
        ["ai-ml"],
        ["Python"],
        "a/liked",
    )
    assert text == "like a/liked, which you starred or own; matches ai-ml, Python"


def test_collaborative_and_popularity_are_named_when_they_carry_the_score() -> None:
    collaborative = reason({"semantic": 0.1, "collaborative": 0.3}, [], [], "a/liked")
    assert collaborative == (
        "like a/liked, which you starred or own; starred by people who star what you star"
    )
    popular = reason({"semantic": 0.1, "popularity": 0.3}, ["ai-ml"], [], "a/liked")
    assert popular == "like a/liked, which you starred or own; matches ai-ml; popular"
    not_popular = reason({"semantic": 0.3, "popularity": 0.1}, ["ai-ml"], [], "a/liked")
    assert not_popular == "like a/liked, which you starred or own; matches ai-ml"


def test_a_user_without_signal_is_told_it_is_popular() -> None:
    assert reason({"popularity": 0.9}, [], [], None, without_signal=True) == "popular"

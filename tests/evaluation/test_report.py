"""The evaluation report: JSON shape, table, chart and ratios."""

import pytest

from octorec.evaluation.report import EvaluationReport


def _report() -> EvaluationReport:
    return EvaluationReport(
        dataset={"users": 2, "repos": 10, "test_interactions": 4},
        k=[5, 10],
        models={
            "octorec": {"recall@10": 0.4, "ndcg@10": 0.3},
            "popularity": {"recall@10": 0.1, "ndcg@10": 0.2},
        },
    )


def test_json_has_the_documented_keys() -> None:
    data = _report().to_json()
    assert data["dataset"] == {"users": 2, "repos": 10, "test_interactions": 4}
    assert data["k"] == [5, 10]
    assert data["models"]["octorec"]["recall@10"] == 0.4


def test_ratios_and_table() -> None:
    report = _report()
    assert report.ratios("octorec", "popularity") == pytest.approx(
        {"recall@10": 4.0, "ndcg@10": 1.5}
    )
    lines = report.table().splitlines()
    assert lines[0].split() == ["model", "recall@10", "ndcg@10"]
    assert lines[1].split() == ["octorec", "0.4000", "0.3000"]


def test_the_chart_scales_bars_to_the_best_model() -> None:
    chart = _report().bar_chart().splitlines()
    assert chart[0] == "recall@10"
    assert chart[1].count("█") == 40 and chart[2].count("█") == 10


def test_targets_compare_with_popularity_and_the_best_other_baseline() -> None:
    report = EvaluationReport(
        dataset={},
        k=[10],
        models={
            "octorec": {"recall@10": 0.30, "ndcg@10": 0.30},
            "popularity": {"recall@10": 0.10, "ndcg@10": 0.10},
            "als": {"recall@10": 0.20, "ndcg@10": 0.10},
            "semantic": {"recall@10": 0.10, "ndcg@10": 0.26},
        },
    )
    recall, ndcg = report.targets()
    assert recall == (
        "octorec recall@10: ×3.00 popularity (target ≥ 2), ×1.50 the best other baseline, als "
        "(target ≥ 1.2): met"
    )
    assert ndcg.endswith("×1.15 the best other baseline, semantic (target ≥ 1.2): NOT met")

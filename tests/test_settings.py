from pathlib import Path

import pytest

from octorec.settings import ORIGIN_WEIGHTS, SettingsError, SourceKind, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECOMMENDATION_TOP_N", "RECOMMENDATION_WEIGHT_SEMANTIC", "OCTOREC_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.source is SourceKind.SNAPSHOT
    assert settings.top_n == 5
    assert settings.min_similarity == 0.05
    assert settings.model_dimensions == 384
    # Fitted on validation splits (docs/quality.md); the original design's weights serve users
    # who know no project yet.
    assert settings.weights.model_dump() == {
        "semantic": 0.4,
        "category": 0.0,
        "tech_stack": 0.2,
        "popularity": 0.0,
        "collaborative": 0.4,
    }
    assert settings.content_weights.as_scoring_weights().model_dump() == ORIGIN_WEIGHTS
    assert settings.filters.exclude_archived and not settings.filters.exclude_forks
    assert settings.filters.max_months_since_push is None
    assert settings.database == (Path.cwd() / "data" / "octorec.duckdb").resolve()


def test_environment_variables_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECOMMENDATION_TOP_N", "10")
    monkeypatch.setenv("RECOMMENDATION_WEIGHT_POPULARITY", "0.3")
    monkeypatch.setenv("OCTOREC_DATABASE", str(tmp_path / "x.duckdb"))
    settings = load_settings()
    assert settings.top_n == 10
    assert settings.weights.popularity == 0.3
    assert settings.database == tmp_path / "x.duckdb"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RECOMMENDATION_TOP_N", "many", "RECOMMENDATION_TOP_N: Input should be a valid integer"),
        ("MODEL_DIMENSIONS", "0", "MODEL_DIMENSIONS: Input should be greater than 0"),
        ("RECOMMENDATION_WEIGHT_CATEGORY", "-1", "RECOMMENDATION_WEIGHT_CATEGORY: Input should"),
        ("OCTOREC_SOURCE", "ftp", "OCTOREC_SOURCE: Input should be 'snapshot' or 'github'"),
        (
            "RECOMMENDATION_CONTENT_WEIGHT_TECH_STACK",
            "x",
            "RECOMMENDATION_CONTENT_WEIGHT_TECH_STACK: Input should be a valid number",
        ),
        (
            "RECOMMENDATION_MAX_MONTHS_SINCE_PUSH",
            "0",
            "RECOMMENDATION_MAX_MONTHS_SINCE_PUSH: Input should be greater than 0",
        ),
        (
            "RECOMMENDATION_SEMANTIC_NEIGHBOURS",
            "-1",
            "RECOMMENDATION_SEMANTIC_NEIGHBOURS: Input should be greater than or equal to 0",
        ),
    ],
)
def test_bad_values_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()

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


def _float_variables() -> list[str]:
    """Every environment variable a float setting is read from, nested settings included."""
    from octorec.settings import (
        CandidateFilters,
        ContentWeights,
        ScorerSettings,
        ScoringWeights,
        Settings,
    )

    names = []
    for model in (ScoringWeights, ContentWeights, ScorerSettings, CandidateFilters):
        prefix = model.model_config.get("env_prefix", "")
        names += [
            f"{prefix}{name}".upper()
            for name, info in model.model_fields.items()
            if info.annotation is float
        ]
    for info in Settings.model_fields.values():
        if info.annotation is float and info.validation_alias is not None:
            names.append(info.validation_alias.choices[0])  # type: ignore[union-attr]
    return names


def test_every_float_setting_is_found() -> None:
    names = _float_variables()
    for expected in (
        "RECOMMENDATION_MIN_SIMILARITY",
        "RECOMMENDATION_WEIGHT_SEMANTIC",
        "RECOMMENDATION_CONTENT_WEIGHT_POPULARITY",
        "RECOMMENDATION_COLLABORATIVE_SHRINKAGE",
        "USER_PROFILE_WEIGHT",
        "GITHUB_BACKOFF_SECONDS",
    ):
        assert expected in names


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "Infinity"])
@pytest.mark.parametrize("variable", _float_variables())
def test_no_float_setting_takes_nan_or_infinity(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert f"{variable}: Input should be a finite number" in message, message
    assert "\n" not in message


def test_top_n_is_bounded_and_the_bound_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECOMMENDATION_TOP_N", "100000000000000000000")
    with pytest.raises(SettingsError, match=r"RECOMMENDATION_TOP_N: .*1000"):
        load_settings()
    monkeypatch.setenv("RECOMMENDATION_TOP_N", "1000")
    assert load_settings().top_n == 1000

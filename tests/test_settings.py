from pathlib import Path

import pytest

from octorec.settings import SettingsError, SourceKind, load_settings


def test_defaults_are_the_seed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RECOMMENDATION_TOP_N", "RECOMMENDATION_WEIGHT_SEMANTIC", "OCTOREC_DATABASE"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.source is SourceKind.SNAPSHOT
    assert settings.top_n == 5
    assert settings.min_similarity == 0.1
    assert settings.model_dimensions == 384
    assert settings.weights.model_dump() == {
        "semantic": 0.25,
        "category": 0.45,
        "tech_stack": 0.5,
        "popularity": 0.1,
    }
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
    ],
)
def test_bad_values_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()

"""`OctorecResource` reads the settings once per run and shares them; `force` is run config."""

import os
from pathlib import Path

import dagster as dg
import pytest

import octorec.defs.resources as resources
from octorec.defs.resources import FORCE_CONFIG, OctorecResource
from octorec.settings import Settings, load_settings


def _counting_load_settings(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Record every settings read the resource makes (it reads them through `load_settings`)."""
    reads: list[Settings] = []

    def counted() -> Settings:
        reads.append(load_settings())
        return reads[-1]

    monkeypatch.setattr(resources, "load_settings", counted)
    return reads


def _two_steps(seen: list[Settings], new_database: Path) -> list[dg.AssetsDefinition]:
    """Two assets in a row; the first changes the environment half-way through the run."""

    @dg.asset
    def first(octorec: OctorecResource) -> None:
        seen.append(octorec.settings())
        with octorec.warehouse():  # opening the warehouse reads nothing again
            pass
        seen.append(octorec.settings())
        os.environ["OCTOREC_DATABASE"] = str(new_database)
        os.environ["RECOMMENDATION_TOP_N"] = "17"

    @dg.asset(deps=[first])
    def second(octorec: OctorecResource) -> None:
        seen.append(octorec.settings())

    return [first, second]


def test_settings_are_read_once_per_run_and_an_environment_change_mid_run_is_ignored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    database = tmp_path / "octorec.duckdb"
    monkeypatch.setenv("OCTOREC_DATABASE", str(database))
    monkeypatch.setenv("RECOMMENDATION_TOP_N", "5")
    reads = _counting_load_settings(monkeypatch)
    seen: list[Settings] = []
    assets = _two_steps(seen, tmp_path / "elsewhere.duckdb")

    result = dg.materialize(assets, resources={"octorec": OctorecResource()})

    assert result.success
    assert len(reads) == 1
    assert len(seen) == 3 and all(settings is reads[0] for settings in seen)
    assert seen[-1].database == database and seen[-1].top_n == 5
    # The next run reads the environment as it is then.
    seen.clear()
    assert dg.materialize(assets, resources={"octorec": OctorecResource()}).success
    assert len(reads) == 2
    assert seen[0].database == tmp_path / "elsewhere.duckdb" and seen[0].top_n == 17


def test_force_is_run_config_and_octorec_force_still_forces(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OCTOREC_DATABASE", str(tmp_path / "octorec.duckdb"))
    monkeypatch.delenv("OCTOREC_FORCE", raising=False)
    forced: list[bool] = []

    @dg.asset
    def reads_force(octorec: OctorecResource) -> None:
        forced.append(octorec.settings().force)

    job = dg.define_asset_job("forced", [reads_force])
    definitions = dg.Definitions(
        assets=[reads_force], jobs=[job], resources={"octorec": OctorecResource()}
    )
    resolved = definitions.resolve_job_def("forced")
    assert resolved.execute_in_process().success
    assert resolved.execute_in_process(run_config=FORCE_CONFIG).success
    monkeypatch.setenv("OCTOREC_FORCE", "1")
    assert resolved.execute_in_process().success
    assert forced == [False, True, True]
    # Outside a run (an asset function called directly) the resource reads them on first use.
    monkeypatch.delenv("OCTOREC_FORCE")
    assert OctorecResource(force=True).settings().force
    assert not OctorecResource().settings().force

"""dbt's target and log folders live under the run's working state, one per warehouse location
named without its password, never in the checkout (issue 18)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from octorec.dbt_project import DBT_PROJECT_DIR, dbt_project, dbt_target_dir, location_folder


def test_each_location_has_its_own_folder_named_without_secrets() -> None:
    first = location_folder("postgresql://octorec:S3cret@db.example:5433/octorec")
    other_password = location_folder("postgresql://octorec:Other@db.example:5433/octorec")
    other_database = location_folder("postgresql://octorec:S3cret@db.example:5433/other")
    assert first.startswith("postgres-db.example-5433-octorec-")
    assert "S3cret" not in first and "octorec:" not in first
    assert first == other_password  # the same warehouse, whatever the password
    assert first != other_database
    duck = location_folder(Path("/data/octorec.duckdb"))
    assert duck.startswith("duckdb-octorec-") and duck != location_folder(Path("/x/octorec.duckdb"))


def test_the_folders_are_under_dagster_home_or_the_configured_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    where = dbt_target_dir(tmp_path / "w.duckdb")
    assert where.parent == tmp_path / "home" / "dbt"
    assert dbt_target_dir(tmp_path / "w.duckdb", tmp_path / "mine").parent == tmp_path / "mine"


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


@pytest.mark.slow
def test_a_run_leaves_nothing_in_the_checkouts_dbt_folders(
    tmp_path: Path, sample_slice: Path
) -> None:
    dbt_project()  # the manifest, parsed when the definitions load (make setup does it)
    before = {name: _listing(DBT_PROJECT_DIR / name) for name in ("target", "logs")}
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    database = tmp_path / "octorec.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "octorec.cli", "run"],
        env={
            **os.environ,
            "DAGSTER_HOME": str(home),
            "OCTOREC_SOURCE": "snapshot",
            "OCTOREC_SNAPSHOT_DIR": str(sample_slice),
            "OCTOREC_DATABASE": str(database),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    after = {name: _listing(DBT_PROJECT_DIR / name) for name in ("target", "logs")}
    assert after == before
    state = home / "dbt" / location_folder(database)
    assert (state / "dbt.log").is_file() and (state / "run_results.json").is_file()

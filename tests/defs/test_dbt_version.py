"""Two dbt start-up costs a run no longer pays: `dbt --version` when the dbt it runs is the one
installed beside this Python, and a full parse on its first dbt command."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from dagster_dbt import DbtProject

from octorec.dbt_project import (
    DBT_PROJECT_DIR,
    InstalledDbtCliResource,
    dbt_executable,
    dbt_project,
    dbt_target_dir,
    parse_project,
    run_dbt,
)


def test_the_version_is_the_one_the_installed_dbt_reports() -> None:
    resource = InstalledDbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
    assert Path(resource.dbt_executable).parent == Path(sys.executable).parent
    reported = subprocess.run(
        [dbt_executable(), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+\.\d+\.\d+)", reported)
    assert match is not None
    assert str(resource._cli_version) == match.group(1)


def test_a_dbt_elsewhere_is_still_asked(tmp_path: Path) -> None:
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\necho 'Core:'\necho '  - installed: 2.0.7'\n")
    elsewhere.chmod(elsewhere.stat().st_mode | stat.S_IEXEC)
    resource = InstalledDbtCliResource(project_dir=dbt_project(), dbt_executable=str(elsewhere))
    assert str(resource._cli_version) == "2.0.7"


def _first_command_log(target: Path, database: Path, state: Path) -> str:
    """dbt's log of `dbt ls` against `database` (run as octorec runs dbt outside Dagster),
    starting from the parse in `target`."""
    folder = dbt_target_dir(database, state) / "outside-dagster"
    folder.mkdir(parents=True)
    (folder / "partial_parse.msgpack").write_bytes((target / "partial_parse.msgpack").read_bytes())
    run_dbt(database, ["ls", "--quiet"], state_dir=state)
    return (folder / "dbt.log").read_text()


@pytest.mark.slow
def test_the_parse_is_made_for_the_configured_warehouse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The default warehouse (data/octorec.duckdb here): no variable names it to dbt yet.
    monkeypatch.delenv("OCTOREC_DATABASE", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    configured = (tmp_path / "data" / "octorec.duckdb").resolve()
    target = tmp_path / "parsed"
    parse_project(
        DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target_path=target)
    )
    assert "OCTOREC_DATABASE" not in os.environ  # the environment as it was
    reused = _first_command_log(target, configured, tmp_path / "same")
    assert "Partial parsing enabled" in reused and "profile has changed" not in reused
    # Another warehouse's file is another profile: dbt parses again (what the parse saves).
    other = _first_command_log(target, tmp_path / "other.duckdb", tmp_path / "other")
    assert "profile has changed" in other

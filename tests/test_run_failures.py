"""`octorec run` when something is wrong (issue 18, items 7, 8 and 10): a bad setting, a
warehouse that cannot be reached, a step that fails. Each is run as a subprocess, as a user runs
it: the last line of its standard error is the cause (with the step's name when a step failed),
never Dagster's wrapper or `FAILED at None`, and no trace reaches the terminal."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _octorec_run(tmp_path: Path, **env: str) -> tuple[int, str, str]:
    home = tmp_path / "dagster-home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environment = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "OCTOREC_DATABASE": str(tmp_path / "octorec.duckdb"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "octorec.cli", "run"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _last_line(text: str) -> str:
    return text.rstrip().splitlines()[-1]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RECOMMENDATION_TOP_N", "0", "RECOMMENDATION_TOP_N: Input should be greater than 0"),
        (
            "RECOMMENDATION_TOP_N",
            "100000000000000000000",
            "RECOMMENDATION_TOP_N: Input should be less than or equal to 1000",
        ),
        (
            "RECOMMENDATION_MIN_SIMILARITY",
            "nan",
            "RECOMMENDATION_MIN_SIMILARITY: Input should be a finite number",
        ),
        (
            "RECOMMENDATION_WEIGHT_SEMANTIC",
            "inf",
            "RECOMMENDATION_WEIGHT_SEMANTIC: Input should be a finite number",
        ),
    ],
)
def test_a_bad_setting_is_the_last_line_and_nothing_runs(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    code, out, err = _octorec_run(tmp_path, **{variable: value})
    assert code == 1
    assert _last_line(err).startswith("octorec: ") and message in _last_line(err), err
    assert "Traceback" not in err and "FAILED at None" not in out + err
    assert not (tmp_path / "octorec.duckdb").exists()  # nothing was run, nothing replaced


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_a_warehouse_that_cannot_be_reached_is_one_line(tmp_path: Path) -> None:
    port = _closed_port()
    code, out, err = _octorec_run(
        tmp_path,
        DATABASE_URL=f"postgresql://octorec:Secret@127.0.0.1:{port}/octorec",
        OCTOREC_WAREHOUSE_RETRY_SECONDS="0.1",
    )
    assert code == 1
    last = _last_line(err)
    assert last.startswith(f"octorec: cannot connect to PostgreSQL at 127.0.0.1:{port}"), err
    assert "Secret" not in out + err
    assert "FAILED before any step" in out and "FAILED at None" not in out
    # The three retries are announced on the terminal, the cause comes last.
    assert "trying again in 0.4 s (retry 3 of 3)" in err, err
    assert "Traceback" not in err and "Stack Trace" not in err


@pytest.mark.slow
def test_a_failing_step_names_itself_and_its_cause(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-snapshot"
    code, out, err = _octorec_run(tmp_path, OCTOREC_SNAPSHOT_DIR=str(missing))
    assert code == 1
    assert _last_line(err) == (
        f"octorec: github_data_ready failed: snapshot directory {missing} does not exist; "
        "set OCTOREC_SNAPSHOT_DIR to a directory holding repos.csv and user_stars.csv"
    ), err
    assert "Error occurred while executing" not in out + err
    assert "FAILED at github_data_ready" in out
    assert "Traceback" not in err and "Stack Trace" not in err

"""The sample's pipeline result the sample benchmarks read: `data/bench/sample.duckdb`.

`bring_up_to_date` runs `training_data_pipeline` on it every time: with nothing changed that
takes seconds, and it brings a database from an older octorec up to date.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "github-sample"
DATABASE = ROOT / "data" / "bench" / "sample.duckdb"


def bring_up_to_date(snapshot: Path = SAMPLE) -> dict[str, str]:
    """Run the job on `snapshot` into `DATABASE`; the environment it ran with."""
    home = DATABASE.parent / "dagster-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    environment = {
        "OCTOREC_DATABASE": str(DATABASE),
        "OCTOREC_SNAPSHOT_DIR": str(snapshot.resolve()),
        "DAGSTER_HOME": str(home),
    }
    dagster = Path(sys.executable).parent / "dagster"
    subprocess.run(
        [
            str(dagster),
            "job",
            "execute",
            "-m",
            "octorec.definitions",
            "-j",
            "training_data_pipeline",
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
    )
    return environment

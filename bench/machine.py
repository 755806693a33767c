"""What machine a benchmark ran on, for its JSON output."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe_machine() -> dict[str, object]:
    """Cores, CPU model and Python version."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}

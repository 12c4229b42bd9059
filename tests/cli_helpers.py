"""Run the real `cloud-doctor` CLI in a subprocess with its own data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cli(*args: str, data_dir: Path, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    environ = {**os.environ, "CLOUD_DOCTOR_DATA_DIR": str(data_dir), "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "interfaces.cli", *args], cwd=REPO, env=environ,
                          capture_output=True, text=True, timeout=timeout)

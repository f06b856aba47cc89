"""Shared set-up for the benchmarks: a throwaway Dagster home and storage, and a timed subprocess."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fresh_env(prefix: str) -> dict[str, str]:
    """Environment for a run that touches nothing of the user's: temp DAGSTER_HOME, DART_STORAGE, MLflow store."""
    root = Path(tempfile.mkdtemp(prefix=f"dart_bench_{prefix}_"))
    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").touch()
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "home"),
        "DART_STORAGE": str(root / "storage"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'storage' / 'mlflow.db'}",
    }


def timed(command: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    return seconds


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start"

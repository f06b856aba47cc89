"""The code location loads and materializes through the dagster CLI, as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

DAGSTER = str(Path(sys.executable).with_name("dagster"))
REPO = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DAGSTER, *args], cwd=REPO, env=dict(os.environ), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.slow
def test_definitions_validate(dart_env, dagster_home, storage):
    result = run("definitions", "validate", "-m", "dart_assets.definitions")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


@pytest.mark.slow
def test_asset_materialize_a_partition_range(dart_env, dagster_home, storage):
    dart_env.setenv("DART_SETTLEMENT_POINTS", "HB_NORTH,HB_WEST")
    result = run(
        "asset",
        "materialize",
        "-m",
        "dart_assets.definitions",
        "--select",
        "dam_prices,rtm_prices,system_conditions,driver_forecasts",
        "--partition-range",
        "2025-01-01...2025-01-03",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "RUN_SUCCESS" in output
    for name in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"):
        assert sorted(p.name for p in (storage / name).iterdir()) == [
            "2025-01-01.parquet",
            "2025-01-02.parquet",
            "2025-01-03.parquet",
        ]
    dam = pd.read_parquet(storage / "dam_prices" / "2025-01-03.parquet")
    assert len(dam) == 48 and sorted(dam.settlement_point.unique()) == ["HB_NORTH", "HB_WEST"]
    assert len(pd.read_parquet(storage / "system_conditions" / "2025-01-01.parquet")) == 24
    assert (dagster_home / "history" / "runs.db").exists()  # the run was recorded in the temp instance

"""The README's backfill through the dagster CLI on real ERCOT data with a gap: nine months of the shared 2024 hubs
file (or, without ../shared/data, the committed cut around its March gap) in one run. It succeeds, stores a
partition per day and table, and each table's no_missing_days check names exactly the gap days.

On the real file the local instance records one planned and one materialization event per partition and table,
about 2,200 SQLite writes; the Dagster home sits on tmpfs where there is one (about 40 s instead of 2.5 min on the
reference machine's disk; bench/gap_backfill.py measures both)."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dart_assets.defs.dart.market import MARKET_TABLES
from dart_assets_tests.defs.dart.test_gaps import CUT, gap_message
from dart_assets_tests.market.fixtures import SHARED

DAGSTER = str(Path(sys.executable).with_name("dagster"))
REPO = Path(__file__).resolve().parents[1]
REAL = SHARED / "real" / "ercot_hubs_2024-01_2024-09_forecasts.csv"
SOURCE, FIRST, LAST = (REAL, "2024-01-01", "2024-09-30") if REAL.is_file() else (CUT, "2024-03-05", "2024-03-20")


@pytest.mark.slow
def test_backfill_over_the_real_gap_from_the_cli(dart_env, instance_dir, storage):
    (instance_dir / "dagster.yaml").write_text("")
    dart_env.setenv("DAGSTER_HOME", str(instance_dir))
    for name, value in {
        "DART_DATA_SOURCE": "table",
        "DART_DATA_PATH": str(SOURCE),
        "DART_START_DATE": "2024-01-01",
        "DART_SETTLEMENT_POINTS": "HB_WEST,HB_NORTH,HB_HOUSTON",
        "DART_DECISION_TIME": "09:55",
    }.items():
        dart_env.setenv(name, value)
    command = [DAGSTER, "asset", "materialize", "-m", "dart_assets.definitions", "--select", ",".join(MARKET_TABLES)]
    result = subprocess.run(
        [*command, "--partition-range", f"{FIRST}...{LAST}"],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "RUN_SUCCESS" in output

    days = [f"{d.date()}.parquet" for d in pd.date_range(FIRST, LAST)]
    assert len(days) == (274 if SOURCE == REAL else 16)
    for name in MARKET_TABLES:
        assert sorted(p.name for p in (storage / name).iterdir()) == days, name
        assert len(pd.read_parquet(storage / name / "2024-03-13.parquet")) == 0
        assert (
            f"Asset check 'no_missing_days' on '{name}' did not pass. Description: '{gap_message(name, SOURCE)}'"
            in (output)
        )
    assert output.count("Asset check 'no_missing_days'") == len(MARKET_TABLES)  # one evaluation per table

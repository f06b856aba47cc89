"""A backfill of 30 dart_forecast days the way a deployment runs it: `dagster job backfill` of the forecast job
queues one run per day on a real instance whose run queue has deploy/dagster.yaml's limits (QueuedRunCoordinator,
at most 2 backfill runs at once), and a real dagster-daemon starts them. All 30 files must be there, distinct and
equal to what an in-process run writes, and no more than 2 runs may have overlapped (issue 16).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from dart_assets.market.timeutil import hours_in_day
from dart_assets_tests.defs.dart.conftest import POINTS
from dart_assets_tests.deploy import compose
from dart_assets_tests.processes import log_tail, stop_groups

pytestmark = pytest.mark.slow

FIRST, LAST = "2025-02-09", "2025-03-10"
DAYS = [d.date().isoformat() for d in pd.date_range(FIRST, LAST)]
MARKET = ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts")
BACKFILL_LIMIT = 2
TIMEOUT_S = 1500  # generous: a loaded CI machine runs the 30 runs far slower than the ~3 min seen alone


def _instance_yaml(home: Path) -> None:
    """deploy/dagster.yaml's run queue and run limits on local (SQLite) storage; dequeuing every second instead of
    every 5 s so the test does not wait on the queue."""
    deploy = yaml.safe_load((compose.DEPLOY / "dagster.yaml").read_text())
    coordinator = deploy["run_coordinator"]
    coordinator["config"] = {**coordinator.get("config", {}), "dequeue_interval_seconds": 1}
    config = {
        "run_coordinator": coordinator,
        "run_launcher": deploy["run_launcher"],
        "concurrency": deploy["concurrency"],
        "telemetry": {"enabled": False},
    }
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "dagster/backfill", "limit": BACKFILL_LIMIT}
    ]
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_a_30_day_forecast_backfill_runs_2_at_a_time_and_writes_30_correct_files(trained_graph, tmp_path):
    storage, home = tmp_path / "storage", tmp_path / "dagster_home"
    for table in MARKET:  # copies: the backfilled job rewrites driver_forecasts, the session's files stay as they are
        shutil.copytree(trained_graph.storage / table, storage / table)
    home.mkdir()
    _instance_yaml(home)
    # Create the instance's SQLite storage once, here: the daemon and the backfill CLI start together and would both
    # create its tables ("table alembic_version already exists").
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {"python_module": {"module_name": "dart_assets.definitions", "location_name": "dart_assets"}}
                ]
            }
        )
    )
    tag = uuid.uuid4().hex
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DART_", "DAGSTER_", "MLFLOW_"))},
        "DAGSTER_HOME": str(home),
        "DART_STORAGE": str(storage),
        "DART_SETTLEMENT_POINTS": ",".join(POINTS),
        "MLFLOW_TRACKING_URI": trained_graph.tracking_uri,
        "PYTHONPATH": str(compose.REPO),
        "DART_BACKFILL_TEST": tag,  # finds any process of this test left behind
    }
    bin_dir = Path(sys.executable).parent
    log = tmp_path / "daemon.log"
    with log.open("wb") as out:
        daemon = subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-w", str(workspace)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        launched = subprocess.run(
            [
                *(str(bin_dir / "dagster"), "job", "backfill", "-w", str(workspace), "-j", "dart_forecast_job"),
                *("--from", FIRST, "--to", LAST, "--noprompt"),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert launched.returncode == 0, launched.stdout + launched.stderr
        [backfill] = re.findall(r"Launched backfill job `([^`]+)`", launched.stdout)
        instance = dg.DagsterInstance.from_config(str(home))
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            records = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill}))
            if len(records) == len(DAYS) and all(r.dagster_run.is_finished for r in records):
                break
            assert time.monotonic() < deadline, f"backfill not done:\n{log_tail(log)}"
            assert daemon.poll() is None, f"the daemon died:\n{log_tail(log)}"
            time.sleep(1)
    finally:
        leftovers = stop_groups([[daemon]], marker=f"DART_BACKFILL_TEST={tag}", grace_s=10)
    assert leftovers == []

    statuses = {r.dagster_run.tags["dagster/partition"]: r.dagster_run.status for r in records}
    assert statuses == dict.fromkeys(DAYS, dg.DagsterRunStatus.SUCCESS), log_tail(log)
    spans = [(r.start_time, r.end_time) for r in records]
    assert _max_overlap(spans) == BACKFILL_LIMIT  # the limit was reached, never exceeded

    files = {day: (storage / "dart_forecast" / f"{day}.parquet").read_bytes() for day in DAYS}
    assert sorted(p.name for p in (storage / "dart_forecast").iterdir()) == [f"{d}.parquet" for d in DAYS]
    assert len(set(files.values())) == len(DAYS)  # distinct
    champion = trained_graph.client().get_model_version_by_alias("dart-spread-forecaster", "champion")
    for day in DAYS:
        table = pd.read_parquet(storage / "dart_forecast" / f"{day}.parquet")
        assert (table["delivery_date"] == pd.Timestamp(day)).all(), day
        assert table.groupby("settlement_point").size().to_dict() == {p: hours_in_day(day) for p in POINTS}, day
        assert set(table["model_version"]) == {str(champion.version)}, day
        assert (table["dart_p10"] <= table["dart_p90"]).all(), day
    # Correct: byte for byte what an in-process run of the same partition writes (first, spring-forward, last day).
    reference = tmp_path / "reference"
    for table in MARKET:
        (reference / table).parent.mkdir(parents=True, exist_ok=True)
        (reference / table).symlink_to(storage / table)
    for day in (DAYS[0], "2025-03-09", DAYS[-1]):
        result = trained_graph.materialize(
            dg.AssetSelection.assets("dart_forecast"),
            settings=trained_graph.settings(storage=str(reference)),
            partition_key=day,
            instance=dg.DagsterInstance.ephemeral(),
        )
        assert result.success
        assert (reference / "dart_forecast" / f"{day}.parquet").read_bytes() == files[day], day

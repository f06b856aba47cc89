"""Bad input through the CLI, as a user meets it: `dagster asset materialize` on a bad file or a mistyped setting
fails with the clear message, and every file materialized before it is byte-identical afterwards.

One storage folder for the module: good partitions are materialized first from good input and hashed (every file
under DART_STORAGE, and the MLflow store folder should anything write there); the bad runs then target one of those
same partitions, two at a time (each costs seconds of start-up; they fail before writing anything), and the hashes
are compared after them. A few representative kinds only: test_cases.py has the full table.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dart_assets_tests.bad_input import inputs as bad
from dart_assets_tests.market import fixtures as fx

DAGSTER = str(Path(sys.executable).with_name("dagster"))
REPO = Path(__file__).resolve().parents[2]
ASSETS = "dam_prices,rtm_prices,system_conditions"
GOOD_DAYS = [fx.NORMAL_DAY, fx.NORMAL_DAY.replace(day=3)]  # 2024-01-02, 2024-01-03

pytestmark = pytest.mark.slow


def dagster(root: Path, home: str, *args: str, **variables: str) -> subprocess.CompletedProcess:
    """The dagster CLI on the module's storage with only these DART_* settings; `home` names its own instance, so
    runs can go at once (the instance is not what is protected here; the files are)."""
    instance = root / "dagster_home" / home
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "dagster.yaml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DART_", "MLFLOW_"))}
    env |= {
        "DAGSTER_HOME": str(instance),
        "DART_STORAGE": str(root / "storage"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
        "DART_START_DATE": "2024-01-01",
        "DART_SETTLEMENT_POINTS": ",".join(bad.POINTS),
        **variables,
    }
    return subprocess.run([DAGSTER, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def materialize(root: Path, home: str, partition: str, **variables: str) -> subprocess.CompletedProcess:
    flag = "--partition-range" if "..." in partition else "--partition"
    module = ("-m", "dart_assets.definitions")
    return dagster(root, home, "asset", "materialize", *module, "--select", ASSETS, flag, partition, **variables)


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under the storage folder and the MLflow store."""
    files = [p for folder in ("storage", "mlflow") for p in (root / folder).rglob("*") if p.is_file()]
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)}


# ------------------------------------------------------------------------------------------------ bad inputs


def empty_dam_file(folder: Path) -> dict[str, str]:
    bad.good_prices(folder, [bad.DAY])
    (folder / bad.DAM_CSV).write_bytes(b"")
    return {"DART_DATA_SOURCE": "ercot", "DART_DATA_PATH": str(folder)}


def duplicate_hour(folder: Path) -> dict[str, str]:
    def edit(frame):
        frame.loc[1, "timestamp_utc"] = "2024-01-02T06:00:00Z"  # HB_NORTH's first hour twice
        return frame

    return {"DART_DATA_SOURCE": "table", "DART_DATA_PATH": str(bad.tidy_csv(folder / "tidy.csv", edit=edit))}


def good_files(folder: Path) -> dict[str, str]:
    return {"DART_DATA_SOURCE": "ercot", "DART_DATA_PATH": str(bad.good_prices(folder, [bad.DAY]))}


def unknown_source(folder: Path) -> dict[str, str]:
    return {"DART_DATA_SOURCE": "ercott", "DART_DATA_PATH": str(bad.good_prices(folder, [bad.DAY]))}


def impossible_start_date(folder: Path) -> dict[str, str]:
    return {"DART_START_DATE": "2024-02-30"}


PARTITION = "2024-01-02"  # materialized from good input first
CASES = {  # kind -> (input and settings, partition(s) asked for, what the output must say)
    "empty NP4-190-CD file": (empty_dam_file, PARTITION, [f"{bad.DAM_CSV}: empty file (no header, no rows)"]),
    "duplicate hour": (
        duplicate_hour,
        PARTITION,
        ["tidy.csv, row 3: duplicate of row 2 (HB_NORTH at 2024-01-02 06:00 UTC)"],
    ),
    "unknown source": (
        unknown_source,
        PARTITION,
        ["DART_DATA_SOURCE='ercott' is not valid; use one of: synthetic, ercot"],
    ),
    "impossible start date": (
        impossible_start_date,
        PARTITION,
        ["DART_START_DATE='2024-02-30' is not a date; use YYYY-MM-DD"],
    ),
    "range start after its end": (
        good_files,
        "2024-01-03...2024-01-02",
        ["delivery dates 2024-01-03..2024-01-02: the first day is after the last"],
    ),
}
DECISION_TIME = "decision time after the DAM close"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict[str, subprocess.CompletedProcess], dict[str, str], dict[str, str]]:
    """Good partitions from good input, their hashes; then every bad run at once against the same partition, and the
    hashes after them all."""
    root = tmp_path_factory.mktemp("cli")
    (root / "mlflow").mkdir()
    good = bad.tidy_csv(root / "good" / "tidy.csv", days=tuple(GOOD_DAYS))
    result = materialize(root, "good", "2024-01-02...2024-01-03", DART_DATA_SOURCE="table", DART_DATA_PATH=str(good))
    assert result.returncode == 0, result.stdout + result.stderr
    before = snapshot(root)
    assert sorted(before) == [
        f"storage/{asset}/{day}.parquet" for asset in sorted(ASSETS.split(",")) for day in ("2024-01-02", "2024-01-03")
    ]
    jobs = {
        kind: lambda kind=kind, make=make, partition=partition: materialize(
            root, kind, partition, **make(root / "inputs" / kind)
        )
        for kind, (make, partition, _) in CASES.items()
    }
    jobs[DECISION_TIME] = lambda: dagster(
        root, "validate", "definitions", "validate", "-m", "dart_assets.definitions", DART_DECISION_TIME="10:30"
    )
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores
        futures = {kind: pool.submit(job) for kind, job in jobs.items()}
        results = {kind: future.result() for kind, future in futures.items()}
    return results, before, snapshot(root)


@pytest.mark.parametrize("kind", list(CASES))
def test_a_bad_run_fails_clearly_and_loses_nothing(runs, kind):
    results, before, after = runs
    output = results[kind].stdout + results[kind].stderr
    assert results[kind].returncode != 0, output
    for message in CASES[kind][2]:
        assert message in output, output[-3000:]
    assert after == before  # every partition materialized before the bad runs is byte-identical, none added


def test_a_decision_time_after_the_dam_closes_is_refused(runs):
    result = runs[0][DECISION_TIME]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "DART_DECISION_TIME='10:30'" in output

"""Wall time of the README's nine-month backfill through the dagster CLI on the real 2024 hubs file (274 delivery
days x 4 market tables in one run, the March gap included), and where it goes.

Runs `dagster asset materialize --select dam_prices,rtm_prices,system_conditions,driver_forecasts
--partition-range 2024-01-01...2024-09-30` on ../shared/data/real/ercot_hubs_2024-01_2024-09_forecasts.csv in a
fresh Dagster home, three ways:
  - default: the local (SQLite) instance in a temp folder on disk, as a user's first run;
  - subset planned events: the same with DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1 (Dagster then records one
    planned event per asset instead of one per partition; Dagster's trade-off: partitions are not marked failed
    if the run fails);
  - tmpfs: the default, with the Dagster home on /dev/shm (no disk flush per event), where there is one.
Phases from the run's own log: before RUN_START (loading the code location, creating the run and its planned
events), the step (reading, validating, checking, writing 1,096 files and their materialization events), after.

    python bench/gap_backfill.py            # figures on stdout, JSON in .dart/bench/gap_backfill.json
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, machine

REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout (a worktree sits one folder deeper)
SHARED = next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), REPO.parent / "shared")
SOURCE = SHARED / "real" / "ercot_hubs_2024-01_2024-09_forecasts.csv"
TABLES = "dam_prices,rtm_prices,system_conditions,driver_forecasts"
FIRST, LAST = "2024-01-01", "2024-09-30"
EVENT = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+0000 - dagster - .* - (RUN_START|STEP_SUCCESS|RUN_SUCCESS) - ")


def run(label: str, extra_env: dict[str, str], home_dir: str | None = None) -> dict:
    env = fresh_env("gaps")
    if home_dir is not None:
        home = Path(tempfile.mkdtemp(prefix="dart_bench_gaps_home_", dir=home_dir))
        (home / "dagster.yaml").touch()
        env["DAGSTER_HOME"] = str(home)
    env.update(
        {
            "DART_DATA_SOURCE": "table",
            "DART_DATA_PATH": str(SOURCE),
            "DART_START_DATE": FIRST,
            "DART_SETTLEMENT_POINTS": "HB_WEST,HB_NORTH,HB_HOUSTON",
            "DART_DECISION_TIME": "09:55",
            **extra_env,
        }
    )
    command = ["dagster", "asset", "materialize", "-m", "dart_assets.definitions", "--select", TABLES]
    started = time.time()
    result = subprocess.run(
        [*command, "--partition-range", f"{FIRST}...{LAST}"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    ended = time.time()
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"{label}: the backfill failed\n{output[-3000:]}")
    stamps = {}
    for line in output.splitlines():
        if match := EVENT.match(line):
            stamps[match[2]] = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    files = sum(len(list((Path(env["DART_STORAGE"]) / t).iterdir())) for t in TABLES.split(","))
    return {
        "label": label,
        "total_s": round(ended - started, 1),
        "before_run_start_s": round(stamps["RUN_START"] - started, 1),
        "run_s": round(stamps["RUN_SUCCESS"] - stamps["RUN_START"], 1),
        "files": files,
        "materializations": output.count(" - ASSET_MATERIALIZATION - "),
    }


def main() -> None:
    if not SOURCE.is_file():
        raise SystemExit(f"needs the real file {SOURCE} (see ../shared/data/SOURCE.md)")
    print(f"machine: {machine()}")
    rows = [
        run("default (SQLite on disk)", {}),
        run("subset planned events", {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"}),
    ]
    if Path("/dev/shm").is_dir():
        rows.append(run("Dagster home on tmpfs", {}, "/dev/shm"))
    print(f"{'configuration':<28} {'total':>7} {'before run':>11} {'run':>7} {'files':>6} {'materializations':>17}")
    for r in rows:
        print(
            f"{r['label']:<28} {r['total_s']:>6.1f}s {r['before_run_start_s']:>10.1f}s {r['run_s']:>6.1f}s "
            f"{r['files']:>6} {r['materializations']:>17}"
        )
    out = REPO / ".dart" / "bench" / "gap_backfill.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "load_average": os.getloadavg(), "runs": rows}, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()

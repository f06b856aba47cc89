"""The three trainings done one after another in one plain Python process, vs materialized in parallel by Dagster.

Same features, same hyperparameters, same MLflow logging, one thread per trainer in both (what the parallel
runs use); measured side by side in one run, then the ratio. Also each trainer's own time in the sequential loop and
each step's time in the Dagster run (from the run's event log), so the critical path is visible: on 2 cores, the
parallel run cannot beat max(longest trainer, sum of the trainers / 2) plus Dagster's start-up.
Goal (issue 15): the Dagster run takes at most 0.7x the sequential time. JSON in .dart/bench/parallel_training.json.

    python bench/parallel_training.py [--days 150]
    python bench/parallel_training.py --start 2021-01-01 --days 1826 --points 15    # 5 years x 15 points
"""

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, last_run_steps, machine, timed, write_json

from dart_assets.market.synthetic import POINTS

SEQUENTIAL = """
import sys, time
from dart_assets.entrypoints.train import run_training
features, out = sys.argv[1], sys.argv[2]
started = time.perf_counter()
for family in ("lgbm", "xgb", "lstm"):
    begun = time.perf_counter()
    run_training(family, features, f"{out}/{family}", {}, 42, 1, {"bench": "sequential"}, lambda message: None)
    print(family, time.perf_counter() - begun)
print("loop", time.perf_counter() - started)
"""
FAMILIES = ("lgbm", "xgb", "lstm")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=150)
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2025, 1, 1), help="first day")
    parser.add_argument(
        "--points", type=int, help=f"the synthetic generator's first N settlement points (1..{len(POINTS)})"
    )
    parser.add_argument("--json", default="parallel_training.json", help="file name under .dart/bench/")
    args = parser.parse_args()
    env = fresh_env("parallel")
    env.update({"DART_DATA_SOURCE": "synthetic", "DART_START_DATE": args.start.isoformat()})
    if args.points:
        env["DART_SETTLEMENT_POINTS"] = ",".join(list(POINTS)[: args.points])
    end = f"{args.start}...{args.start + dt.timedelta(days=args.days - 1)}"
    at_start = machine()
    print(f"machine: {at_start}")
    points = env.get("DART_SETTLEMENT_POINTS", "the default settlement points")
    print(f"setting up {args.days} days of market data and hourly_features of {points} ...", flush=True)
    module = ["-m", "dart_assets.definitions"]
    set_up = timed(
        [
            "dagster",
            "asset",
            "materialize",
            *module,
            "--select",
            "dam_prices,rtm_prices,system_conditions,driver_forecasts",
            "--partition-range",
            end,
        ],
        env,
    )
    set_up += timed(["dagster", "asset", "materialize", *module, "--select", "hourly_features"], env)
    features = str(Path(env["DART_STORAGE"]) / "hourly_features.parquet")
    rows = pq.ParquetFile(features).metadata.num_rows
    print(f"  {rows} feature rows in {set_up:.1f} s (set-up, not compared)", flush=True)

    started = time.perf_counter()
    inner = subprocess.run(
        [sys.executable, "-c", SEQUENTIAL, features, env["DART_STORAGE"] + "/bench_sequential"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    sequential = time.perf_counter() - started
    lines = dict(line.split() for line in inner.stdout.splitlines() if line.split()[0] in (*FAMILIES, "loop"))
    by_family = {family: round(float(lines[family]), 1) for family in FAMILIES}
    loop = float(lines["loop"])
    print(f"sequential, one plain Python process: {sequential:6.1f} s (training loop alone {loop:.1f} s: {by_family})")

    selection = ",".join(f"{family}_model" for family in FAMILIES)
    parallel = timed(["dagster", "asset", "materialize", *module, "--select", selection], env)
    steps = last_run_steps(env["DAGSTER_HOME"])
    print(f"parallel, dagster asset materialize:  {parallel:6.1f} s (Dagster start-up and step processes included)")
    print(f"  steps in the Dagster run: {steps}")
    floor = max(*by_family.values(), sum(by_family.values()) / 2)
    ratio = parallel / sequential
    print(f"parallel / sequential: {ratio:.2f}x   goal <= 0.7x   {'OK' if ratio <= 0.7 else 'OVER'}")
    print(
        f"  (2-core floor of the trainings alone, from the sequential times: {floor:.1f} s = {floor / sequential:.2f}x)"
    )
    out = write_json(
        args.json,
        {
            "days": args.days,
            "start": args.start.isoformat(),
            "points": env.get("DART_SETTLEMENT_POINTS"),
            "feature_rows": rows,
            "machine": at_start,
            "sequential_s": round(sequential, 1),
            "sequential_by_family_s": by_family,
            "parallel_s": round(parallel, 1),
            "parallel_steps_s": steps,
            "parallel_over_sequential": round(ratio, 2),
            "two_core_floor_s": round(floor, 1),
        },
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()

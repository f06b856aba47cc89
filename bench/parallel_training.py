"""The three trainings done one after another in one plain Python process, vs materialized in parallel by Dagster.

Same features, same hyperparameters, same MLflow logging, one thread per trainer in both (what the parallel
runs use); measured side by side in one run, then the ratio.

    python bench/parallel_training.py [--days 150]
"""

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, machine, timed

SEQUENTIAL = """
import sys, time
from dart_assets.entrypoints.train import run_training
features, out = sys.argv[1], sys.argv[2]
started = time.perf_counter()
for family in ("lgbm", "xgb", "lstm"):
    run_training(family, features, f"{out}/{family}", {}, 42, 1, {"bench": "sequential"}, lambda message: None)
print(time.perf_counter() - started)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=150)
    args = parser.parse_args()
    env = fresh_env("parallel")
    end = f"2025-01-01...{dt.date(2025, 1, 1) + dt.timedelta(days=args.days - 1)}"
    print(f"machine: {machine()}")
    print(f"setting up {args.days} days of market data and hourly_features (not timed) ...", flush=True)
    module = ["-m", "dart_assets.definitions"]
    timed(
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
    timed(["dagster", "asset", "materialize", *module, "--select", "hourly_features"], env)
    features = str(Path(env["DART_STORAGE"]) / "hourly_features.parquet")

    started = time.perf_counter()
    inner = subprocess.run(
        [sys.executable, "-c", SEQUENTIAL, features, env["DART_STORAGE"] + "/bench_sequential"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    sequential = time.perf_counter() - started
    loop = float(inner.stdout.split()[-1])
    print(f"sequential, one plain Python process: {sequential:6.1f} s (training loop alone {loop:.1f} s)")

    parallel = timed(["dagster", "asset", "materialize", *module, "--select", "lgbm_model,xgb_model,lstm_model"], env)
    print(f"parallel, dagster asset materialize:  {parallel:6.1f} s (Dagster start-up and step processes included)")
    print(f"ratio sequential / parallel: {sequential / parallel:.2f}x")


if __name__ == "__main__":
    main()

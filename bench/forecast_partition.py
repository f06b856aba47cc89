"""Wall time of materializing ONE dart_forecast partition from the CLI, Dagster's start-up included.

Goal (issue 5): under 6 s. Sets up market data and a champion first (not timed), then times, side by side:
  - `dagster asset materialize --select dart_forecast --partition D` (the asset CLI, default executor)
  - `dagster job execute -j dart_forecast_job` for the same partition (the job's in-process executor)
  - `python -c "import dart_assets.definitions"` (the floor: loading the code location alone)

    python bench/forecast_partition.py        # JSON in .dart/bench/forecast_partition.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, machine, timed, write_json

START, DAYS = "2025-01-01", 60
DAY = "2025-03-02"  # the day after the market data


def main() -> None:
    env = fresh_env("forecast")
    at_start = machine()
    print(f"machine: {at_start}")
    print("setting up market data and a champion (not timed) ...", flush=True)
    timed(["dart-assets", "quickstart", "--start", START, "--days", str(DAYS)], env)
    asset_cli = [
        "dagster",
        "asset",
        "materialize",
        "-m",
        "dart_assets.definitions",
        "--select",
        "dart_forecast",
        "--partition",
        DAY,
    ]
    job_cli = [
        "dagster",
        "job",
        "execute",
        "-m",
        "dart_assets.definitions",
        "-j",
        "dart_forecast_job",
        "--tags",
        f'{{"dagster/partition": "{DAY}"}}',
    ]
    floor = [sys.executable, "-c", "import dart_assets.definitions"]
    rows = []
    for label, command in (("asset materialize", asset_cli), ("job execute", job_cli), ("import only", floor)):
        times = sorted(timed(command, env) for _ in range(3))
        rows.append((label, times[1]))
    for label, seconds in rows:
        print(f"{label:<18} median of 3: {seconds:5.2f} s")
    best = min(s for label, s in rows if label != "import only")
    print(f"one forecast partition from the CLI: {best:.2f} s   goal < 6 s   {'OK' if best < 6 else 'OVER'}")
    out = write_json(
        "forecast_partition.json", {"machine": at_start, "median_of_3_s": {label: round(s, 2) for label, s in rows}}
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()

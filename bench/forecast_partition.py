"""Wall time of the morning forecast from the CLI, Dagster's start-up included, whatever family is champion; and of
a year of forecasts backfilled as one run.

Goals (issue 15): one `dart_forecast` partition under 6 s; 365 partitions as one run under 60 s. Sets up market
data and the trained candidates first with the quickstart (not timed), then, for each family in turn made champion
(registered and promoted like `promoted_model` does):
  - `dagster job execute -j dart_forecast_job` (the job the sensor launches: in-process executor) for one day,
    the first run after the promotion (the registry changed: MLflow is read) and the median of three more (the
    registry unchanged: the champion cache serves);
and, with the last champion:
  - `dagster asset materialize --select dart_forecast --partition D` (the asset CLI: the code location's executor,
    which runs a one-step run in process);
  - `dagster asset materialize --select dart_forecast --partition-range A...B` over 365 days (one run);
  - `python -c "import dart_assets.definitions"` (the floor: loading the code location alone).

    python bench/forecast_partition.py        # JSON in .dart/bench/forecast_partition.json
"""

import datetime as dt
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, machine, timed, write_json

START, BACKFILL_DAYS = dt.date(2024, 1, 1), 365
# The backfill's first day needs forecasting.HISTORY_DAYS of inputs before it; the quickstart forecasts DAY.
DAYS = BACKFILL_DAYS + 70
DAY = START + dt.timedelta(days=DAYS)
FAMILIES = ("lgbm", "xgb", "ensemble", "naive", "lstm")
MATERIALIZE = ["dagster", "asset", "materialize", "-m", "dart_assets.definitions", "--select", "dart_forecast"]


def promote(env: dict[str, str], family: str) -> None:
    """Make the latest `family` training run the champion, as promoted_model registers a winner."""
    import mlflow

    from dart_assets.common import registry
    from dart_assets.ml import MODEL_NAME

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiments = [e.experiment_id for e in client.search_experiments()]
    [run] = client.search_runs(
        experiments, f"tags.model_family = '{family}' and attributes.status = 'FINISHED'", max_results=1
    )
    run_id = run.info.run_id
    registry.promote(client, MODEL_NAME, f"runs:/{run_id}/model", run_id, {"family": family, "bench": "forecast"})


def job_execute(day: dt.date) -> list[str]:
    return [
        "dagster",
        "job",
        "execute",
        "-m",
        "dart_assets.definitions",
        "-j",
        "dart_forecast_job",
        "--tags",
        f'{{"dagster/partition": "{day.isoformat()}"}}',
    ]


def main() -> None:
    env = {**fresh_env("forecast"), "DART_START_DATE": START.isoformat()}
    at_start = machine()
    print(f"machine: {at_start}")
    print(f"setting up {DAYS} days of market data and every candidate (not timed) ...", flush=True)
    timed(["dart-assets", "quickstart", "--start", START.isoformat(), "--days", str(DAYS)], env)

    per_family = {}
    for family in FAMILIES:
        promote(env, family)
        first = timed(job_execute(DAY), env)
        steady = statistics.median(timed(job_execute(DAY), env) for _ in range(3))
        per_family[family] = {"after_promotion_s": round(first, 2), "steady_median_of_3_s": round(steady, 2)}
        print(f"{family:<9} champion: first run after promotion {first:5.2f} s, then median of 3 {steady:5.2f} s")

    asset_cli = statistics.median(timed([*MATERIALIZE, "--partition", DAY.isoformat()], env) for _ in range(3))
    floor = statistics.median(timed([sys.executable, "-c", "import dart_assets.definitions"], env) for _ in range(3))
    first_day = DAY - dt.timedelta(days=BACKFILL_DAYS)
    last_day = DAY - dt.timedelta(days=1)
    backfill = timed([*MATERIALIZE, "--partition-range", f"{first_day}...{last_day}"], env)
    print(f"asset materialize (one day)                median of 3: {asset_cli:5.2f} s")
    print(f"import of the code location               median of 3: {floor:5.2f} s")
    print(f"{BACKFILL_DAYS} partitions as one run ({first_day}...{last_day}): {backfill:5.1f} s   goal < 60 s")

    worst = max(v["steady_median_of_3_s"] for v in per_family.values())
    print(f"one forecast partition, worst family, steady: {worst:.2f} s   goal < 6 s   {'OK' if worst < 6 else 'OVER'}")
    out = write_json(
        "forecast_partition.json",
        {
            "machine": at_start,
            "job_execute_by_champion_family": per_family,
            "asset_materialize_median_of_3_s": round(asset_cli, 2),
            "import_only_median_of_3_s": round(floor, 2),
            "backfill_one_run": {"days": BACKFILL_DAYS, "seconds": round(backfill, 1)},
        },
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()

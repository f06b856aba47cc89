"""How the DART graph grows with history and settlement points, on the built-in synthetic data.

For each size (years of history x settlement points), in a fresh Dagster home and storage, each step is one
`dagster asset materialize` from the CLI (Dagster's start-up included, as a user runs it), timed with its peak memory:
  - market: the four market tables over the whole partition range as one run (single-run backfill);
  - hourly_features;
  - every model asset, one at a time (so each trainer's own time and memory are visible): lgbm, xgb, lstm,
    ensemble, naive; or, with --models-together, all of them in one run as the retraining job trains them (the
    multiprocess executor's parallel steps; each step's own time from the run's event log);
  - promoted_model (the gate and the promotion, needed by the forecast);
  - the morning forecast of the day after the history: its driver_forecasts partition and dart_forecast, one run.
Rows per step and seconds per 100k rows show whether a step grows linearly. Also, once: the time of
`dagster definitions validate` and of importing the code location (goal: validate under 3 s).

Dagster's own share of each step is shown apart: the CLI's start-up before the run exists, and the run's time
before its first step (planning and one planned event per partition and asset: most of a long market backfill).

Peak memory, sampled every 0.2 s with psutil (a dependency of the Azure monitor exporter; no figures without it): the
largest single process of the step and the summed RSS of its whole process tree (the CLI, the forkserver and the
step processes, which run apart from the CLI).

    python bench/scale.py                                  # 1 year x 3 points and 1 year x 15 points
    python bench/scale.py --years 1 5 10 --points 3 15     # the issue's full grid (10 x 15 takes long)
    python bench/scale.py --subset-planned-events           # Dagster records one planned event per asset
    python bench/scale.py --years 10 --points 15 --until market   # the ten-year backfill alone
    python bench/scale.py --years 10 --points 15 --instance /tmp/dart_bench_scale_10y15p_... --from models \
        --models-together                                  # go on where that run stopped, the models in one run
JSON in .dart/bench/scale.json (or --json NAME).
"""

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from _common import REPO, fresh_env, last_run_steps, machine, measured, write_json

from dart_assets.market.synthetic import POINTS
from dart_assets.ml.families import FAMILIES

LAST_DAY = dt.date(2025, 12, 31)
MARKET = "dam_prices,rtm_prices,system_conditions,driver_forecasts"
MODULE = ["-m", "dart_assets.definitions"]
MODEL_STEPS = [f"{name}_model" for name in FAMILIES]
STEPS = ["market", "hourly_features", *MODEL_STEPS, "models", "promoted_model", "morning_forecast"]
"""Every step a run can stop after or resume from; `models` (all model assets in one run) replaces the model steps
with --models-together."""
GOAL_TOTAL_S, GOAL_RSS_MB, GOAL_MARKET_S, GOAL_VALIDATE_S = 15 * 60, 6 * 1024, 3 * 60, 3.0


def materialize(select: str, *partition: str) -> list[str]:
    return ["dagster", "asset", "materialize", *MODULE, "--select", select, *partition]


def rows_of(storage: Path, table: str) -> int:
    """Rows of a partitioned table (one Parquet file per day) or of an unpartitioned asset file."""
    folder = storage / table
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else [storage / f"{table}.parquet"]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def run_size(
    years: int,
    n_points: int,
    extra_env: dict[str, str],
    until: str,
    models_together: bool = False,
    instance: Path | None = None,
    resume_from: str = STEPS[0],
) -> list[dict]:
    """Each step of one size in a fresh instance, or in `instance` (an earlier run's, its steps before `resume_from`
    done there) from `resume_from` on."""
    first = dt.date(LAST_DAY.year - years + 1, 1, 1)
    forecast_day = LAST_DAY + dt.timedelta(days=1)
    points = list(POINTS)[:n_points]
    env = fresh_env(f"scale_{years}y{n_points}p", root=instance)
    env.update({"DART_DATA_SOURCE": "synthetic", "DART_START_DATE": first.isoformat()})
    env["DART_SETTLEMENT_POINTS"] = ",".join(points)
    env.update(extra_env)
    storage = Path(env["DART_STORAGE"])
    steps = [
        ("market", materialize(MARKET, "--partition-range", f"{first}...{LAST_DAY}")),
        ("hourly_features", materialize("hourly_features")),
        *(
            [("models", materialize(",".join(MODEL_STEPS)))]
            if models_together
            else [(step, materialize(step)) for step in MODEL_STEPS]
        ),
        ("promoted_model", materialize("promoted_model")),
        # the morning run: D's driver forecasts (posted on D-1), then the forecast for D
        ("morning_forecast", materialize("driver_forecasts,dart_forecast", "--partition", forecast_day.isoformat())),
    ]
    results: list[dict] = []
    labels = [label for label, _ in steps]
    for name in (until, resume_from):
        if name not in labels:
            raise SystemExit(f"step {name} is not run {'with' if models_together else 'without'} --models-together")
    for label, command in steps[labels.index(resume_from) : labels.index(until) + 1]:
        m = measured(command, env, cwd=REPO)
        timeline = last_run_steps(env["DAGSTER_HOME"])
        print(f"  {years}y x {n_points} points: {label} {m.seconds:.1f} s", flush=True)
        # rows the step reads: the market's hours x points; the features' rows for the models; a day for a forecast
        if label == "market":
            n = rows_of(storage, "dam_prices")
        elif label == "morning_forecast":
            n = 24 * n_points
        else:
            n = rows_of(storage, "hourly_features")
        results.append(
            {
                "years": years,
                "points": n_points,
                "step": label,
                "rows": n,
                "seconds": round(m.seconds, 2),
                "s_per_100k_rows": round(m.seconds / n * 1e5, 2),
                # Dagster's share: the CLI's start-up (before the run), and the run's time before its first step
                "cli_startup_s": round(m.seconds - timeline["run"], 1),
                "before_steps_s": timeline["before steps"],
                "largest_process_mb": None if m.largest_process_mb is None else round(m.largest_process_mb),
                "tree_peak_mb": None if m.tree_peak_mb is None else round(m.tree_peak_mb),
            }
            | ({"run_steps_s": timeline} if label == "models" else {})
        )
    return results


def load_time() -> dict:
    """Median of three: `dagster definitions validate` and a bare import of the code location."""
    env = fresh_env("scale_validate")
    validate = [measured(["dagster", "definitions", "validate", *MODULE], env, cwd=REPO) for _ in range(3)]
    imports = [measured([sys.executable, "-c", "import dart_assets.definitions"], env, cwd=REPO) for _ in range(3)]
    return {
        "definitions_validate_s": round(statistics.median(m.seconds for m in validate), 2),
        "import_definitions_s": round(statistics.median(m.seconds for m in imports), 2),
        "import_definitions_mb": round(statistics.median(m.largest_process_mb or 0.0 for m in imports)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, nargs="+", default=[1])
    parser.add_argument("--points", type=int, nargs="+", default=[3, 15])
    parser.add_argument(
        "--until",
        default=STEPS[-1],
        choices=STEPS,
        help="stop after this step (each step needs the ones before it), e.g. market for the backfill alone",
    )
    parser.add_argument(
        "--subset-planned-events",
        action="store_true",
        help="run with DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1: one planned event per asset instead of one "
        "per partition (Dagster's trade-off: the partitions of a failed run are not marked failed)",
    )
    parser.add_argument(
        "--models-together",
        action="store_true",
        help="materialize the model assets in one run (parallel steps, as the retraining job) instead of one by one",
    )
    parser.add_argument(
        "--instance",
        type=Path,
        help="the folder of an earlier run of the same one size (dart_bench_scale_...), to go on in its instance",
    )
    parser.add_argument("--from", dest="resume_from", default=STEPS[0], choices=STEPS, help="with --instance")
    parser.add_argument("--json", default="scale.json", help="file name under .dart/bench/ (one per grid you run)")
    args = parser.parse_args()
    if max(args.points) > len(POINTS) or min(args.points) < 1:
        raise SystemExit(f"--points: 1..{len(POINTS)} (the synthetic generator's settlement points)")
    if args.instance and (len(args.years) > 1 or len(args.points) > 1):
        raise SystemExit("--instance goes on with one size: give one --years and one --points")
    if (args.resume_from != STEPS[0]) != bool(args.instance):
        raise SystemExit("--from and --instance go together")
    extra_env = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1"} if args.subset_planned_events else {}
    started = machine()
    print(f"machine: {started}{'; ' + str(extra_env) if extra_env else ''}")
    loading = load_time()
    print(
        f"definitions validate {loading['definitions_validate_s']:.2f} s (goal < {GOAL_VALIDATE_S:.0f} s), "
        f"import of the code location {loading['import_definitions_s']:.2f} s, {loading['import_definitions_mb']} MB"
    )
    rows, totals = [], []
    for years in args.years:
        for n_points in args.points:
            size = run_size(
                years, n_points, extra_env, args.until, args.models_together, args.instance, args.resume_from
            )
            rows += size
            peak = max(r["tree_peak_mb"] or 0 for r in size)
            market = next((r["seconds"] for r in size if r["step"] == "market"), None)
            totals.append(
                {"years": years, "points": n_points, "total_s": round(sum(r["seconds"] for r in size), 1)}
                | {"peak_mb": peak, "market_s": market, "from": args.resume_from}
            )
            out = write_json(
                args.json,
                {"machine": started, "env": extra_env, "load_time": loading, "steps": rows, "totals": totals},
            )  # each size
    print(
        f"\n{'size':<12} {'step':<16} {'rows':>9} {'seconds':>8} {'s/100k':>7} {'CLI start':>9} {'pre-step':>8} "
        f"{'largest MB':>10} {'tree MB':>8}"
    )
    for r in rows:
        tree = "-" if r["tree_peak_mb"] is None else str(r["tree_peak_mb"])
        print(
            f"{r['years']:>2}y x {r['points']:>2} pt  {r['step']:<16} {r['rows']:>9} {r['seconds']:>8.1f} "
            f"{r['s_per_100k_rows']:>7.1f} {r['cli_startup_s']:>9.1f} {r['before_steps_s']:>8.1f} "
            f"{r['largest_process_mb']!s:>10} {tree:>8}"
        )
    print("\ngoals at 10 years x 15 points: total < 15 min, peak < 6 GB, market backfill < 3 min")
    for t in totals:
        market = "not run" if t["market_s"] is None else f"{t['market_s']:6.1f} s"
        print(
            f"{t['years']:>2}y x {t['points']:>2} pt  total {t['total_s']:7.1f} s (from {t['from']})   "
            f"peak {t['peak_mb']:6} MB   market {market}"
        )
    for r in rows:
        if "run_steps_s" in r:
            print(f"{r['years']:>2}y x {r['points']:>2} pt  models in one run, each step: {r['run_steps_s']}")
    print(f"written {out}")


if __name__ == "__main__":
    main()

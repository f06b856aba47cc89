"""The README's real-data table: the whole DART graph run through the CLI on each shared real ERCOT file.

For each file, in a throwaway DAGSTER_HOME / DART_STORAGE / MLflow store, with the `table` source:
  dagster asset materialize ... --select dam_prices,rtm_prices,system_conditions,driver_forecasts --partition-range
  dagster asset materialize ... --select hourly_features
  dagster asset materialize ... --select <every model asset>        (in parallel, one run)
  dagster asset materialize ... --select promoted_model             (a failing gate is a result, not an error)
then reads each candidate's MLflow run and the promotion's record, and prints per settlement point and pooled: test
MAE, the best naive baseline's MAE and which one, skill, sign accuracy (all hours, and the traded hours |P50| > t
with their share), P10-P90 coverage, RMSE and R², for every candidate and for the forecast that is served (the
champion if the gate passed, else the registry's naive fallback). Test split = the last 10% of each file's hours.
Also pooled over the files for the served forecast (issue 12's goals). Writes JSON.

    python bench/real_data.py [--data ../shared/data/real] [--out .dart/bench/real_data.json] [--set hubs|west]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import fresh_env, machine

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
SETS = {
    "hubs": {
        "file": "ercot_hubs_2024-01_2024-09_forecasts.csv",
        "points": "HB_HOUSTON,HB_NORTH,HB_WEST",
        "range": ("2024-01-01", "2024-09-30"),
        "decision_time": "09:55",
    },
    "west": {
        "file": "ercot_hb_west_2023-06-27_2024-09-30.csv",
        "points": "HB_WEST",
        "range": ("2023-06-27", "2024-09-30"),
        "decision_time": "09:00",
    },
}
MARKET = "dam_prices,rtm_prices,system_conditions,driver_forecasts"
COLUMNS = [
    ("test_mae", "MAE", "{:.2f}"),
    ("best_baseline_test_mae", "best base.", "{:.2f}"),
    ("best_baseline", "which", "{}"),
    ("test_mae_skill", "skill", "{:+.1%}"),
    ("test_sign_accuracy", "sign acc.", "{:.3f}"),
    ("test_sign_accuracy_traded", "traded acc.", "{:.3f}"),
    ("test_traded_share", "traded", "{:.0%}"),
    ("test_p10_p90_coverage", "P10-P90", "{:.1%}"),
    ("test_rmse", "RMSE", "{:.2f}"),
    ("test_r2", "R²", "{:.3f}"),
]


def materialize(env: dict[str, str], select: str, *extra: str) -> tuple[float, bool]:
    command = ["dagster", "asset", "materialize", "-m", "dart_assets.definitions", "--select", select, *extra]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, result.returncode == 0


def run_set(name: str, data: Path) -> dict:
    spec = SETS[name]
    env = {
        **fresh_env(f"real_{name}"),
        "DART_DATA_SOURCE": "table",
        "DART_DATA_PATH": str((data / spec["file"]).resolve()),
        "DART_SETTLEMENT_POINTS": spec["points"],
        "DART_START_DATE": spec["range"][0],
        "DART_DECISION_TIME": spec["decision_time"],
    }
    from dart_assets.ml.families import FAMILIES

    models = ",".join(f"{family}_model" for family in FAMILIES)
    seconds = {}
    for step, select, extra, must in (
        ("market data", MARKET, ("--partition-range", "...".join(spec["range"])), True),
        ("hourly_features", "hourly_features", (), True),
        ("models", models, (), True),
        ("promoted_model", "promoted_model", (), False),  # the blocking gate fails the run when it fails
    ):
        seconds[step], ok = materialize(env, select, *extra)
        print(f"  {name}: {step} {seconds[step]:.0f}s{'' if ok else ' (run failed)'}", flush=True)
        if must and not ok:
            raise SystemExit(
                f"{name}: materializing {select} failed; rerun the command with DAGSTER_HOME={env['DAGSTER_HOME']}"
            )
    return {"seconds": seconds, **collect(env, [f"{family}_model" for family in FAMILIES])}


def collect(env: dict[str, str], model_assets: list[str]) -> dict:
    """Every candidate's per-point test table, and which one is served, from the instance and the MLflow store."""
    import dagster as dg
    from mlflow import MlflowClient

    from dart_assets.common import registry
    from dart_assets.ml import MODEL_NAME
    from dart_assets.ml.metrics import per_point_table

    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    candidates, runs = {}, {}
    for asset in model_assets:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        run_id = str(event.asset_materialization.metadata["mlflow_run_id"].value)
        run = client.get_run(run_id)
        runs[run_id] = asset
        table = per_point_table(run.data.metrics)
        table["hours"] = [_hours(run.data, point) for point in table.index]
        candidates[asset] = {
            "table": table.reset_index().to_dict("records"),
            "val_mae": run.data.metrics["val_mae"],
            "serving": {k.removeprefix("serving_"): v for k, v in run.data.params.items() if k.startswith("serving_")},
        }
    promotion = instance.get_latest_materialization_event(dg.AssetKey("promoted_model")).asset_materialization
    meta = {k: v.value for k, v in promotion.metadata.items()}
    champion = registry.champion(client, MODEL_NAME)
    fallback = registry.by_alias(client, MODEL_NAME, registry.FALLBACK)
    served = champion or fallback
    return {
        "candidates": candidates,
        "winner": meta["winner"],
        "gate_passed": meta["gate_passed"],
        "why": meta["why"],
        "served": runs[served.run_id] if served else None,
        "served_alias": "champion" if champion else "fallback" if fallback else None,
    }


def _hours(run_data, point: str) -> int:
    """Scored test hours of a point: the split holds all points' hours alike."""
    n_test = int(run_data.params["n_test"])
    points = [k for k in run_data.metrics if k.startswith("test_mae_skill_")]
    return n_test if point == "pooled" else n_test // max(1, len(points))


def print_set(name: str, result: dict) -> None:
    print(
        f"\n{name}: winner on validation {result['winner']}, gate {'passed' if result['gate_passed'] else 'failed'}; "
        f"served: {result['served']} (@{result['served_alias']})"
    )
    header = f"{'model':<16} {'point':<11} " + " ".join(f"{label:>11}" for _, label, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    for asset, candidate in result["candidates"].items():
        label = f"{asset}*" if asset == result["served"] else asset
        for row in candidate["table"]:
            cells = " ".join(f"{fmt.format(row[key]) if key in row else '-':>11}" for key, _, fmt in COLUMNS)
            print(f"{label:<16} {row['settlement_point']:<11} {cells}")
    print("* served")


def pooled_over_sets(results: dict[str, dict]) -> dict:
    """The served forecasts of all sets together: hour-weighted MAE vs the baseline best over all those hours."""
    from dart_assets.ml.metrics import BASELINES

    rows = []
    for result in results.values():
        served = next(r for r in result["candidates"][result["served"]]["table"] if r["settlement_point"] == "pooled")
        rows.append(served)
    hours = sum(r["hours"] for r in rows)
    mae = sum(r["test_mae"] * r["hours"] for r in rows) / hours
    baseline = {b: sum(r[f"baseline_{b}_test_mae"] * r["hours"] for r in rows) / hours for b in BASELINES}
    best = min(baseline, key=baseline.__getitem__)
    return {
        "hours": hours,
        "mae": mae,
        "best_baseline": best,
        "best_baseline_mae": baseline[best],
        "skill": 1 - mae / baseline[best],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--set", choices=list(SETS), action="append", help="default: every set")
    parser.add_argument("--out", type=Path, default=Path(".dart/bench/real_data.json"))
    args = parser.parse_args()
    print(f"machine: {machine()} (shared: other work may run beside it)")
    results = {}
    for name in args.set or list(SETS):
        print(f"{name}: {SETS[name]['file']} at decision time {SETS[name]['decision_time']}", flush=True)
        results[name] = run_set(name, args.data)
        print_set(name, results[name])
    summary = {"machine": machine(), "cpu_count": os.cpu_count(), "sets": results}
    if len(results) > 1:
        summary["served_pooled_over_sets"] = pooled = pooled_over_sets(results)
        print(
            f"\nserved forecasts pooled over {', '.join(results)}: MAE {pooled['mae']:.2f} vs "
            f"{pooled['best_baseline']} {pooled['best_baseline_mae']:.2f} over {pooled['hours']} hours: "
            f"skill {pooled['skill']:+.1%} (goal >= 5%)"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()

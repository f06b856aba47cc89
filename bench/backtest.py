"""Walk-forward backtest speed: six months on the built-in data, every family retrained each month with its
production defaults, the months side by side as `dart_backtest` runs them in local mode; then forecasting one month
of one point from a trained model, per family.

Three hubs; the first month's training window is 150 days of hourly_features rows and grows by a month each month.
The months run through `dart_assets.backtest.run_months` (one spawned process per month, at most one per core), the
code `dart_backtest` runs inside its step; Dagster's own start-up (~10 s per CLI run) is not included.

    python bench/backtest.py [--first-month 2025-06] [--months 6] [--out .dart/bench/backtest.json]
        [--chart docs/backtest_synthetic.png]

Both modes print `backtest_report`'s numbers for the months (the same `dart_assets.backtest.report`): quality by
month and the virtual-bid P&L per strategy, pooled over the points, and write its cumulative P&L chart. With
`--storage DART_STORAGE` nothing is trained: the report is made from the `dart_backtest` months materialized there
(e.g. by `dagster asset materialize --select dart_backtest --partition-range ...` on a real file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine

from dart_assets import backtest, features
from dart_assets.market import synthetic
from dart_assets.ml.artifacts import load_bundle
from dart_assets.ml.selection import SelectionRule
from dart_assets.ml.training import train_model
from dart_assets.settings import DEFAULT_POINTS, Settings

FIRST_WINDOW_DAYS = 150
GOALS = {"six_months_seconds": 300.0, "forecast_month_point_seconds": 1.0}


def hourly_features(start: pd.Timestamp, end: pd.Timestamp, points: list[str]) -> pd.DataFrame:
    """What the hourly_features asset computes, on the built-in generator's market tables."""
    return features.hourly_features(synthetic.generate(str(start.date()), str(end.date()), points), points)[0]


def forecast_seconds(table: pd.DataFrame, month: str, point: str, repeats: int = 5) -> dict[str, float]:
    """Per family: the best of `repeats` timings of one vectorised forecast of `month` at `point` from a trained,
    reloaded bundle (training not timed)."""
    window = backtest.TrainingWindow()
    train = backtest.training_rows(table, month, window)
    one_point = table[table["settlement_point"] == point]
    rows = backtest.month_rows(one_point, month)
    timings = {}
    for family in backtest.BacktestConfig(rule=SelectionRule(60.0, 0.02)).families:
        with tempfile.TemporaryDirectory() as work:
            model = load_bundle(train_model(family, train, features.feature_columns(table), Path(work)).bundle_dir)
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                predicted = backtest.forecast_rows(model, one_point, month, rows)
                best = min(best, time.perf_counter() - started)
            assert predicted["p50"].notna().all(), f"{family}: hours without a forecast"
            timings[family] = best
    return timings


def print_report(frame: pd.DataFrame, chart: Path | None) -> dict:
    """backtest_report's tables on `frame` (months of dart_backtest); the chart to `chart`; its numbers as JSON."""
    made = backtest.report(frame)
    quality = made.quality.table.reset_index()
    by_month = quality[quality["settlement_point"] == "all"].drop(columns="settlement_point")
    pooled = made.evaluation.summary.xs("pooled", level="settlement_point")
    print("\nquality by month (all points):\n" + by_month.to_markdown(index=False, floatfmt=".3f"))
    print(f"\nvirtual bids, pooled over points (fee ${made.evaluation.fee_per_mwh:.2f}/MWh, P&L $ per MW):")
    print(pooled.reset_index().to_markdown(index=False, floatfmt=".2f"))
    print("\nmodels:\n" + made.models.drop(columns="selection").to_markdown())
    if chart is not None:
        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_bytes(made.chart_png)
        print(f"chart: {chart}")
    return {
        "quality_by_month": by_month.to_dict("records"),
        "pnl_pooled": pooled.reset_index().to_dict("records"),
        "models": made.models.reset_index().to_dict("records"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first-month", default="2025-06")
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path(".dart/bench/backtest.json"))
    parser.add_argument("--chart", type=Path, default=None, help="write the cumulative P&L chart (PNG) here")
    parser.add_argument("--storage", type=Path, default=None, help="report on the dart_backtest months stored here")
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    if args.storage is not None:
        months = sorted((args.storage / "dart_backtest").glob("*.parquet"))
        if not months:
            raise SystemExit(f"no dart_backtest months under {args.storage / 'dart_backtest'}")
        frame = pd.concat([pd.read_parquet(path) for path in months], ignore_index=True)
        write_json(args.out, {"machine": machine(), "storage": str(args.storage), **print_report(frame, args.chart)})
        return

    points = list(DEFAULT_POINTS)
    first = backtest.month_start(args.first_month)
    months = [backtest.month_label(first + pd.DateOffset(months=i)) for i in range(args.months)]
    # The first two market days have no D-2 history, and M1-1 is not settled: 150 days of rows before month one.
    start = first - pd.Timedelta(days=FIRST_WINDOW_DAYS + 3)
    end = backtest.month_start(months[-1]) + pd.DateOffset(months=1) - pd.Timedelta(days=1)
    started = time.perf_counter()
    table = hourly_features(start, end, points)
    features_seconds = time.perf_counter() - started
    print(f"hourly_features {start.date()}..{end.date()}, {len(points)} hubs: {features_seconds:.1f} s", flush=True)

    settings = Settings()
    config = backtest.BacktestConfig(rule=SelectionRule(settings.gate_max_test_rmse, settings.gate_min_skill))
    started = time.perf_counter()
    results = backtest.run_months(table, months, config)
    total = time.perf_counter() - started
    forecast = forecast_seconds(table, months[-1], points[0])

    header = (
        f"{'month':<8} {'train days':>10} {'served':<22} {'MAE':>6} {'skill':>7} {'coverage':>8} {'seconds':>8}  "
        "training s per family"
    )
    lines = [header, "-" * len(header)]
    for month, result in results.items():
        served = result.metrics.iloc[0]
        lines.append(
            f"{month:<8} {result.train_days:>10} {result.served:<22} {served['mae']:>6.2f} {served['mae_skill']:>7.1%} "
            f"{served['p10_p90_coverage']:>8.1%} {result.seconds:>8.1f}  "
            + " ".join(f"{family} {seconds:.0f}" for family, seconds in result.train_seconds.items())
        )
    lines += [
        f"{len(months)} months, {len(config.families)} families retrained each month, "
        f"{min(len(months), os.cpu_count() or 1)} processes: "
        f"{total:.1f} s (goal < {GOALS['six_months_seconds']:.0f} s)",
        f"forecast one month of {points[0]} from a trained model: "
        + ", ".join(f"{family} {seconds:.3f} s" for family, seconds in forecast.items())
        + f" (goal < {GOALS['forecast_month_point_seconds']:.0f} s)",
    ]
    print("\n".join(lines))
    reported = print_report(pd.concat([r.frame for r in results.values()], ignore_index=True), args.chart)
    payload = {
        "machine": machine(),
        "points": points,
        "months": months,
        "features_seconds": features_seconds,
        "six_months_seconds": total,
        "forecast_month_point_seconds": forecast,
        "goals": GOALS,
        "per_month": {
            month: {
                "train_days": r.train_days,
                "served": r.served,
                "seconds": r.seconds,
                "train_seconds": r.train_seconds,
                **{k: float(v) for k, v in r.metrics.iloc[0].items()},
            }
            for month, r in results.items()
        },
        **reported,
    }
    write_json(args.out, payload)


def write_json(out: Path, payload: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Which decision-time features help on real ERCOT data: walk-forward months, old vs new feature set, ablations.

Reads the shared real file (three hubs, 2024-01..09, DAM, RTM, actual load and the D-1 09:55 forecast posting)
into the four market tables, builds `hourly_features` at a decision time (default 09:55, when the shared
forecasts were posted), keeps the rows `features.training_rows` keeps, and for each month April..July 2024 trains a
LightGBM (dart_assets/ml/lgbm.py defaults, L1 objective, early stopping on the last 10% of the training days) on
every earlier row and scores the month. August and September 2024 are never read: they are the held-out test split.

Skill = 1 - MAE / MAE of the best naive baseline on the same rows: zero spread; the last known same hour (D-1's
hour where it was published by the decision time, else D-2's); the hour-of-week median per point of the training
rows. Prints a table and writes JSON.

    python bench/feature_ablation.py [--data PATH] [--decision-time 09:55] [--out .dart/bench/feature_ablation.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from dart_assets import features
from dart_assets.market import schemas, timeutil

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
FILE = "ercot_hubs_2024-01_2024-09_forecasts.csv"
HELD_OUT_FROM = pd.Timestamp("2024-08-01")  # August-September 2024: the reported test split, never read here
MONTHS = ["2024-04", "2024-05", "2024-06", "2024-07"]
PARAMS = {
    "objective": "l1",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    "verbose": -1,
    "seed": 0,
    "deterministic": True,
    "num_threads": 2,
}
ROUNDS, EARLY_STOP = 1000, 50
# The feature set before decision-time work (issue 11): whole-day lags, rolling stats, calendar, system forecasts
# (and `month`, no longer built since issue 12).
OLD = [
    "hour_ending",
    "dart_lag_2d",
    "dart_lag_3d",
    "dart_lag_7d",
    "rtm_lag_2d",
    "rtm_lag_7d",
    "dam_lag_1d",
    "dam_lag_7d",
    "dart_mean_7d",
    "dart_std_7d",
    "dart_daily_mean_2d",
    "rtm_daily_max_2d",
    "dam_daily_mean_1d",
    "day_of_week",
    "is_holiday",
    "load_forecast_mw",
    "wind_forecast_mw",
    "solar_forecast_mw",
    "net_load_forecast_mw",
]
GROUPS = {
    "d1_morning": lambda c: (
        c.endswith(("_lag_1d", "_last_1d", "_morning_mean_1d", "_morning_change_1d")) and c.startswith(("rtm", "dart"))
    ),
    "regime": lambda c: c in {"rtm_std_7d", "dart_abs_mean_7d", "rt_spike_hours_7d", "rt_spike_hours_14d"},
    "net_load_dynamics": lambda c: c in {"net_load_ramp_mw", "net_load_forecast_dod_mw"},
    "regional": lambda c: c.endswith("_region_mw"),
    "forecast_errors": lambda c: "_forecast_error_" in c,
    "actual_lags": lambda c: c.startswith(tuple(f"{a}_lag_" for a in schemas.DRIVER_ACTUALS)),
}


def read_tables(path: Path) -> dict[str, pd.DataFrame]:
    """The shared tidy file as the four market tables, delivery days before August 2024 only."""
    raw = pd.read_csv(path)
    raw["timestamp_utc"] = pd.to_datetime(raw["timestamp_utc"], utc=True).astype("datetime64[ns, UTC]")
    raw = pd.concat([raw, timeutil.from_utc(raw["timestamp_utc"])], axis=1)
    raw = raw[raw["delivery_date"] < HELD_OUT_FROM].reset_index(drop=True)
    keys, prices = schemas.KEY_COLUMNS, schemas.PRICE_KEY_COLUMNS
    hourly = raw.drop_duplicates("timestamp_utc").reset_index(drop=True)
    posted = pd.to_datetime(hourly["forecast_posted_utc"], utc=True).astype("datetime64[ns, UTC]")
    forecast_columns = [c for c in schemas.DRIVER_FORECASTS if c in raw]
    tables = {
        "dam_prices": raw[[*prices, "dam_price"]],
        "rtm_prices": raw[[*prices, "rtm_price"]],
        "system_conditions": hourly[[*keys, "load_mw"]],
        "driver_forecasts": hourly[[*keys, *forecast_columns]].assign(**{schemas.POSTED_COLUMN: posted}),
    }
    return {kind: schemas.validate(kind, frame, str(path)) for kind, frame in tables.items()}


def baselines(test: pd.DataFrame, train: pd.DataFrame) -> dict[str, np.ndarray]:
    week_hour = lambda f: [f["settlement_point"], f["delivery_date"].dt.dayofweek, f["hour_ending"]]  # noqa: E731
    median = train.groupby(week_hour(train))[features.TARGET].median()
    keys = pd.MultiIndex.from_arrays(week_hour(test))
    return {
        "zero": np.zeros(len(test)),
        "last_known_same_hour": test["dart_lag_1d"].fillna(test["dart_lag_2d"]).fillna(0.0).to_numpy(),
        "hour_of_week_median": median.reindex(keys).fillna(float(train[features.TARGET].median())).to_numpy(),
    }


def fit_predict(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> np.ndarray:
    days = np.sort(train["delivery_date"].unique())
    fit, val = (
        train[train["delivery_date"] < days[int(len(days) * 0.9)]],
        train[train["delivery_date"] >= days[int(len(days) * 0.9)]],
    )

    def matrix(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[columns].assign(settlement_point=frame["settlement_point"].astype("category").cat.codes)

    data = lgb.Dataset(matrix(fit), fit[features.TARGET], categorical_feature=["settlement_point"])
    valid = lgb.Dataset(matrix(val), val[features.TARGET], reference=data)
    booster = lgb.train(
        PARAMS, data, ROUNDS, valid_sets=[valid], callbacks=[lgb.early_stopping(EARLY_STOP, verbose=False)]
    )
    return booster.predict(matrix(test), num_iteration=booster.best_iteration)


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--decision-time", default="09:55", type=dt.time.fromisoformat)
    parser.add_argument("--out", type=Path, default=Path(".dart/bench/feature_ablation.json"))
    args = parser.parse_args()
    started = time.perf_counter()

    tables = read_tables(args.data / FILE)
    points = sorted(tables["dam_prices"]["settlement_point"].unique())
    rows, left_out, _ = features.hourly_features(tables, points, args.decision_time)
    new = features.feature_columns(rows)
    sets = {"old": OLD, "new": new}
    for group, member in GROUPS.items():
        members = [c for c in new if member(c)]
        sets[f"old+{group}"] = OLD + [c for c in members if c not in OLD]
        sets[f"new-{group}"] = [c for c in new if c not in members]

    month = rows["delivery_date"].dt.strftime("%Y-%m")
    results: dict[str, dict] = {name: {} for name in sets}
    pooled_actual, pooled_baselines, pooled_predictions = [], {}, {name: [] for name in sets}
    for m in MONTHS:
        train, test = rows[month < m], rows[month == m]
        naive = baselines(test, train)
        for name, values in naive.items():
            pooled_baselines.setdefault(name, []).append(values)
        best = min(mae(test[features.TARGET], v) for v in naive.values())
        pooled_actual.append(test[features.TARGET].to_numpy())
        for name, columns in sets.items():
            predicted = fit_predict(train, test, columns)
            pooled_predictions[name].append(predicted)
            results[name][m] = 1 - mae(test[features.TARGET], predicted) / best
    actual = np.concatenate(pooled_actual)
    best_pooled = min(mae(actual, np.concatenate(v)) for v in pooled_baselines.values())
    for name in sets:
        results[name]["pooled"] = 1 - mae(actual, np.concatenate(pooled_predictions[name])) / best_pooled
    baseline_mae = {name: mae(actual, np.concatenate(v)) for name, v in pooled_baselines.items()}

    header = f"{'feature set':<26} {'n':>3} " + " ".join(f"{m:>8}" for m in [*MONTHS, "pooled"])
    lines = [
        f"MAE skill vs the best naive baseline, walk-forward, decision time {args.decision_time:%H:%M} Central, "
        f"points {', '.join(points)}",
        "pooled baseline MAE $/MWh: " + ", ".join(f"{k} {v:.2f}" for k, v in baseline_mae.items()),
        header,
        "-" * len(header),
    ]
    for name, columns in sets.items():
        lines.append(
            f"{name:<26} {len(columns):>3} " + " ".join(f"{results[name][m]:>8.1%}" for m in [*MONTHS, "pooled"])
        )
    lines.append(
        f"rows {left_out['rows_kept']} kept; left out: {left_out['rows_without_target']} without target, "
        f"{left_out['rows_missing_inputs']} missing key inputs ({len(left_out['days_missing_inputs'])} days); "
        f"{os.cpu_count()} cores, {time.perf_counter() - started:.0f} s"
    )
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "decision_time": args.decision_time.strftime("%H:%M"),
        "points": points,
        "months": MONTHS,
        "skill": results,
        "feature_sets": sets,
        "pooled_baseline_mae": baseline_mae,
        "left_out": left_out,
        "params": PARAMS,
    }
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

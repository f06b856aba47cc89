"""Validation evidence for the modelling recipe: walk-forward months BEFORE the reported test split, on the shared
real ERCOT files, through the product's own code (features.build_features, training.fit_candidate, serving rules).

For month M (first day m0): the labelled history is the hourly_features rows of delivery days <= m0-2 (what is
settled at m0's decision time); its last 28 days validate (early stopping, serving rules), the rest trains; the
model then serves m0-1 and the month, each day's band from the misses of the days before it. Months: hubs
2024-04..07, west 2023-11..2024-07 (as in issue 12's research); nothing from 2024-08-01 on is read, so the test
splits the README reports (roughly 2024-08-16 / 2024-09-04 .. 09-30) are never seen.

Skill = 1 - MAE / MAE of the best naive baseline on the same hours (zero; last known same hour; hour-of-week median
per point of the training rows), pooled over all months and points of a set, and per month.

    python bench/recipe_validation.py --set hubs --family lgbm [--params '{"anchor_weight": 0}'] \
        [--drop 'regex of feature columns'] [--out .dart/bench/validation_<label>.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dart_assets import features
from dart_assets.common.split import Split, SplitBoundaries
from dart_assets.market import table
from dart_assets.ml import families, metrics
from dart_assets.ml.training import fit_candidate

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
HELD_OUT_FROM = dt.date(2024, 8, 1)
VAL_DAYS = 28
SETS = {
    "hubs": {
        "file": "ercot_hubs_2024-01_2024-09_forecasts.csv",
        "points": ["HB_HOUSTON", "HB_NORTH", "HB_WEST"],
        "start": dt.date(2024, 1, 1),
        "decision_time": dt.time(9, 55),
        "months": ["2024-04", "2024-05", "2024-06", "2024-07"],
    },
    "west": {
        "file": "ercot_hb_west_2023-06-27_2024-09-30.csv",
        "points": ["HB_WEST"],
        "start": dt.date(2023, 6, 27),
        "decision_time": dt.time(9, 0),
        "months": [f"{m:%Y-%m}" for m in pd.date_range("2023-11-01", "2024-07-01", freq="MS")],
    },
}


def hourly_features(name: str, data: Path) -> pd.DataFrame:
    """What the hourly_features asset holds for the set's file, cut before the held-out months."""
    spec = SETS[name]
    end = HELD_OUT_FROM - dt.timedelta(days=1)
    tables = table.read_table(data / spec["file"], spec["start"], end, spec["points"])
    rows = features.hourly_features(tables, list(spec["points"]), spec["decision_time"])[0]
    assert rows["delivery_date"].max() < pd.Timestamp(HELD_OUT_FROM), "held-out rows leaked into the validation"
    return rows


def month_split(frame: pd.DataFrame, month: str) -> tuple[Split, pd.Index]:
    """Train / validation / (bridge day + month) for month M, and the index of the month's own rows."""
    m0 = pd.Timestamp(f"{month}-01")
    last_known = m0 - pd.Timedelta(days=2)
    val_start = last_known - pd.Timedelta(days=VAL_DAYS - 1)
    day = frame["delivery_date"]
    train = frame[day < val_start]
    val = frame[(day >= val_start) & (day <= last_known)]
    test = frame[(day >= m0 - pd.Timedelta(days=1)) & (day < m0 + pd.offsets.MonthBegin(1))]
    stamps = [p["timestamp_utc"] for p in (train, val, test)]
    bounds = SplitBoundaries(*(s.agg(f) for s in stamps for f in ("min", "max")))
    return Split(train, val, test, bounds), test.index[test["delivery_date"] >= m0]


def run(name: str, family: str, params: dict, drop: str | None, data: Path, seed: int = 42) -> dict:
    frame = hourly_features(name, data)
    columns = [c for c in features.feature_columns(frame) if not (drop and re.search(drop, c))]
    model_family = families.get(family)
    merged = {**model_family.default_params, **params}
    scored, months = [], {}
    for month in SETS[name]["months"]:
        parts, rows = month_split(frame, month)
        started = time.perf_counter()
        candidate = fit_candidate(model_family, parts, columns, merged, seed, 1, lambda message: None)
        how = metrics.HourOfWeekMedian.fit(parts.train)
        test = parts.test.loc[rows]
        pred = candidate.test_predictions.loc[rows]
        out = test[["delivery_date", "settlement_point", "dart"]].assign(
            month=month, **{c: pred[c].to_numpy() for c in ("p10", "p50", "p90")}
        )
        for baseline, values in metrics.baseline_predictions(test, how).items():
            out[f"b_{baseline}"] = values
        out["t"] = candidate.rules.trade_threshold
        scored.append(out)
        months[month] = {
            **summary(out),
            "shrink_weight": candidate.rules.shrink_weight,
            "shrink_anchor": candidate.rules.shrink_anchor,
            "best_iteration": candidate.fit.best_iteration,
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(
            f"  {month}: "
            + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in months[month].items()),
            flush=True,
        )
    pooled = pd.concat(scored, ignore_index=True)
    by_month_point = [summary(rows)["skill"] for _, rows in pooled.groupby(["month", "settlement_point"])]
    return {
        "set": name,
        "family": family,
        "params": params,
        "drop": drop,
        "seed": seed,
        "n_features": len(columns),
        "pooled": {**summary(pooled), "min_month_point_skill": float(min(by_month_point))},
        "months": months,
    }


def summary(rows: pd.DataFrame) -> dict:
    """Scores of the hours the model forecast (an LSTM skips hours without a gap-free look-back), baselines alike."""
    unscored = int(rows["p50"].isna().sum())
    rows = rows[rows["p50"].notna()]
    actual, p50 = rows["dart"].to_numpy(), rows["p50"].to_numpy()
    baseline_mae = {b: metrics.mae(actual, rows[f"b_{b}"]) for b in metrics.BASELINES}
    best = min(baseline_mae, key=baseline_mae.__getitem__)
    traded = np.abs(p50) > rows["t"].to_numpy()
    return {
        "mae": metrics.mae(actual, p50),
        "best_baseline": best,
        "best_baseline_mae": baseline_mae[best],
        "skill": metrics.skill(metrics.mae(actual, p50), baseline_mae[best]),
        "coverage": metrics.interval_coverage(actual, rows["p10"], rows["p90"]),
        "traded_share": float(traded.mean()),
        "sign_accuracy_traded": metrics.sign_accuracy(actual[traded], p50[traded]) if traded.any() else float("nan"),
        "unscored_hours": unscored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=list(SETS), required=True)
    parser.add_argument("--family", default="lgbm", choices=list(families.FAMILIES))
    parser.add_argument("--params", default="{}", help="JSON hyperparameter overrides")
    parser.add_argument("--drop", default=None, help="regex: feature columns to leave out")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--label", default=None)
    parser.add_argument("--data", type=Path, default=REAL)
    parser.add_argument("--out", type=Path, default=Path(".dart/bench"))
    args = parser.parse_args()
    label = args.label or f"{args.set}_{args.family}"
    print(f"{label}: {args.set} {args.family} params={args.params} drop={args.drop}", flush=True)
    result = run(args.set, args.family, json.loads(args.params), args.drop, args.data, args.seed)
    p = result["pooled"]
    print(
        f"{label}: pooled skill {p['skill']:.4f} (MAE {p['mae']:.3f} vs {p['best_baseline']} "
        f"{p['best_baseline_mae']:.3f}), "
        f"worst month x point {p['min_month_point_skill']:.4f}, coverage {p['coverage']:.3f}, "
        f"traded {p['traded_share']:.3f} at sign accuracy {p['sign_accuracy_traded']:.3f}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"validation_{label}.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()

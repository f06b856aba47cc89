"""Metrics and naive baselines shared by every model family, so all runs are scored the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from dart_assets.ml.dataset import TARGET

BASELINES = ("zero", "same_hour", "hour_dow")
BASELINE_LABELS = {"zero": "zero spread", "same_hour": "last known same hour", "hour_dow": "hour-of-week median"}
POINT_METRICS = ("rmse", "mae", "r2", "sign_accuracy")
# Test metrics logged per settlement point as `<name>_<point>`, e.g. test_mae_skill_HB_WEST.
PER_POINT = (
    "test_mae",
    "best_baseline_test_mae",
    "test_mae_skill",
    "test_rmse",
    "test_r2",
    "test_sign_accuracy",
    "test_sign_accuracy_traded",
    "test_traded_share",
    "test_p10_p90_coverage",
    *(f"baseline_{name}_test_mae" for name in BASELINES),
)
POINT_SKILL_PREFIX = "test_mae_skill_"
POOLED = "pooled"


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(predicted)) ** 2)))


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(predicted))))


def r2(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Coefficient of determination; NaN when the actuals are constant (no variance to explain)."""
    actual, predicted = np.asarray(actual), np.asarray(predicted)
    total = np.sum((actual - actual.mean()) ** 2)
    return float(1 - np.sum((actual - predicted) ** 2) / total) if total > 0 else float("nan")


def sign_accuracy(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Share of hours whose predicted sign matches the actual one; hours with actual == 0 have no sign and are
    ignored. A trader acting on the sign of DART cares about this more than about the size of the error."""
    actual, predicted = np.asarray(actual), np.asarray(predicted)
    signed = actual != 0
    if not signed.any():
        return float("nan")
    return float(np.mean(np.sign(predicted[signed]) == np.sign(actual[signed])))


def pinball_loss(actual: ArrayLike, quantile: ArrayLike, alpha: float) -> float:
    """Mean quantile loss: alpha * under-prediction, (1 - alpha) * over-prediction."""
    diff = np.asarray(actual) - np.asarray(quantile)
    return float(np.mean(np.maximum(alpha * diff, (alpha - 1) * diff)))


def interval_coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of actuals inside [lower, upper]; about 0.8 for a calibrated P10-P90 band."""
    actual = np.asarray(actual)
    return float(np.mean((actual >= np.asarray(lower)) & (actual <= np.asarray(upper))))


def point_scores(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float]:
    return {
        "rmse": rmse(actual, predicted),
        "mae": mae(actual, predicted),
        "r2": r2(actual, predicted),
        "sign_accuracy": sign_accuracy(actual, predicted),
    }


class HourOfWeekMedian:
    """The hour-of-week median baseline, per settlement point: the median DART of the rows it was fitted on for each
    (point, hour ending, weekday of the delivery date), falling back to the point's hour-ending median, then the
    point's median, then the median of all rows, for combinations it never saw.

    Fitted on a training split and stored with the model (plain JSON), so serving reads exactly the table the
    validation choices were made with.
    """

    LEVELS = (("settlement_point", "hour_ending", "day_of_week"), ("settlement_point", "hour_ending"))

    def __init__(self, tables: dict[str, dict[str, float]], overall: float) -> None:
        self.tables = tables
        self.overall = overall

    @classmethod
    def fit(cls, rows: pd.DataFrame) -> HourOfWeekMedian:
        keyed = _keyed(rows)
        tables = {
            _level_name(level): {
                str(key): float(value)
                for key, value in keyed.groupby(_joined(keyed, level))[TARGET].median().dropna().items()
            }
            for level in (*cls.LEVELS, ("settlement_point",))
        }
        return cls(tables, float(keyed[TARGET].median()))

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        keyed = _keyed(rows)
        out = np.full(len(rows), np.nan)
        for level in (*self.LEVELS, ("settlement_point",)):
            table = pd.Series(self.tables[_level_name(level)], dtype="float64")
            looked_up = table.reindex(_joined(keyed, level)).to_numpy() if len(table) else np.full(len(rows), np.nan)
            out = np.where(np.isnan(out), looked_up, out)
        return np.where(np.isnan(out), self.overall, out)

    def to_dict(self) -> dict[str, Any]:
        return {"tables": self.tables, "overall": self.overall}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HourOfWeekMedian:
        return cls(data["tables"], float(data["overall"]))


def last_known_same_hour(rows: pd.DataFrame) -> np.ndarray:
    """The same hour's DART on the latest day it is known at the decision time: D-1's hour where it was published
    by then (`dart_lag_1d`, NaN otherwise), else D-2's (`dart_lag_2d`), else 0 (start of history)."""
    lag_1d = rows["dart_lag_1d"] if "dart_lag_1d" in rows else pd.Series(np.nan, index=rows.index)
    return lag_1d.fillna(rows["dart_lag_2d"]).fillna(0.0).to_numpy(dtype="float64")


def naive_forecast(name: str, rows: pd.DataFrame, hour_of_week: HourOfWeekMedian | None) -> np.ndarray:
    """The naive baseline `name` (one of BASELINES) for `rows`, knowing only what a trader knows at the decision
    time: zero (no spread), same_hour (`last_known_same_hour`), hour_dow (the per-point hour-of-week median of the
    training split, `HourOfWeekMedian`)."""
    if name == "zero":
        return np.zeros(len(rows))
    if name == "same_hour":
        return last_known_same_hour(rows)
    if name == "hour_dow":
        if hour_of_week is None:
            raise ValueError("the hour-of-week baseline needs a table fitted on training rows")
        return hour_of_week.predict(rows)
    raise ValueError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}")


def baseline_predictions(rows: pd.DataFrame, hour_of_week: HourOfWeekMedian) -> dict[str, np.ndarray]:
    """Every naive baseline for `rows` (see `naive_forecast`)."""
    return {name: naive_forecast(name, rows, hour_of_week) for name in BASELINES}


def comparison_table(
    actual: ArrayLike, predicted: ArrayLike, baselines: dict[str, np.ndarray], model_name: str = "model"
) -> pd.DataFrame:
    """Rows: the model then each baseline (`baseline_<name>`); columns: rmse, mae, r2, sign_accuracy."""
    rows = {model_name: point_scores(actual, predicted)}
    rows.update({f"baseline_{name}": point_scores(actual, values) for name, values in baselines.items()})
    return pd.DataFrame.from_dict(rows, orient="index")[list(POINT_METRICS)]


def trade_scores(actual: ArrayLike, predicted: ArrayLike, threshold: float) -> dict[str, float]:
    """The hours a desk trades on: |P50| above `threshold` (virtual supply when P50 > t, demand when P50 < -t).
    `traded_share` of all hours, and the sign accuracy on those hours (NaN when none is traded)."""
    actual, predicted = np.asarray(actual), np.asarray(predicted)
    traded = np.abs(predicted) > threshold
    return {
        "traded_share": float(traded.mean()) if len(traded) else float("nan"),
        "sign_accuracy_traded": sign_accuracy(actual[traded], predicted[traded]) if traded.any() else float("nan"),
    }


def evaluate(
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    val_pred: pd.DataFrame,
    test_pred: pd.DataFrame,
    model_name: str = "model",
    trade_threshold: float | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """The flat MLflow metric dict and the test comparison table.

    Only rows the model predicted (p50 not NaN: the LSTM skips rows without a full look-back window) are
    scored, and the baselines are scored on exactly those rows. Besides the pooled numbers, every settlement point
    gets `<name>_<point>` for each name of PER_POINT (see `per_point_table`): a pooled skill must not hide a point
    that loses to naive. With a `trade_threshold` (|P50| above it is traded), the traded hours' sign accuracy and
    share too.
    """
    val_rows, val_pred = _predicted_rows(val, val_pred)
    test_rows, test_pred = _predicted_rows(test, test_pred)
    hour_of_week = HourOfWeekMedian.fit(train)
    val_actual, test_actual = val_rows[TARGET].to_numpy(), test_rows[TARGET].to_numpy()
    test_baselines = baseline_predictions(test_rows, hour_of_week)
    val_baseline_mae = min(mae(val_actual, v) for v in baseline_predictions(val_rows, hour_of_week).values())
    table = comparison_table(test_actual, test_pred["p50"].to_numpy(), test_baselines, model_name)
    metrics: dict[str, float] = {
        "val_rmse": rmse(val_actual, val_pred["p50"]),
        "val_mae": mae(val_actual, val_pred["p50"]),
        **_test_scores(test_actual, test_pred, test_baselines, trade_threshold),
        "test_pinball_p10": pinball_loss(test_actual, test_pred["p10"], 0.1),
        "test_pinball_p90": pinball_loss(test_actual, test_pred["p90"], 0.9),
        "val_mae_skill": skill(mae(val_actual, val_pred["p50"]), val_baseline_mae),
    }
    for name in BASELINES:
        metrics[f"baseline_{name}_test_rmse"] = rmse(test_actual, test_baselines[name])
    if trade_threshold is not None:
        metrics["trade_threshold"] = float(trade_threshold)
    points = test_rows["settlement_point"].astype(str).to_numpy()
    for point in sorted(set(points)):
        rows = points == point
        scores = _test_scores(
            test_actual[rows], test_pred[rows], {k: v[rows] for k, v in test_baselines.items()}, trade_threshold
        )
        metrics.update({f"{name}_{point}": scores[name] for name in PER_POINT if name in scores})
    return metrics, table


def _test_scores(
    actual: np.ndarray, predictions: pd.DataFrame, baselines: dict[str, np.ndarray], trade_threshold: float | None
) -> dict[str, float]:
    """The test numbers computed the same way pooled and per point."""
    p50 = predictions["p50"].to_numpy()
    scores = {f"test_{k}": v for k, v in point_scores(actual, p50).items()}
    scores["test_p10_p90_coverage"] = interval_coverage(actual, predictions["p10"], predictions["p90"])
    for name, values in baselines.items():
        scores[f"baseline_{name}_test_mae"] = mae(actual, values)
    scores["best_baseline_test_mae"] = min(scores[f"baseline_{name}_test_mae"] for name in baselines)
    scores["test_mae_skill"] = skill(scores["test_mae"], scores["best_baseline_test_mae"])
    if trade_threshold is not None:
        scores.update({f"test_{k}": v for k, v in trade_scores(actual, p50, trade_threshold).items()})
    return scores


def per_point_table(metrics: Mapping[str, float]) -> pd.DataFrame:
    """The test metrics of a flat metric dict (what `evaluate` logged) as a table: one row per settlement point,
    then "pooled"; columns PER_POINT (those present) and `best_baseline`, the name of the best naive baseline."""
    points = sorted(k.removeprefix(POINT_SKILL_PREFIX) for k in metrics if k.startswith(POINT_SKILL_PREFIX))
    suffixes = {**{p: f"_{p}" for p in points}, POOLED: ""}
    table = pd.DataFrame(
        {name: [metrics.get(f"{name}{suffix}", np.nan) for suffix in suffixes.values()] for name in PER_POINT},
        index=pd.Index(list(suffixes), name="settlement_point"),
    ).dropna(axis=1, how="all")
    baseline_mae = table[[f"baseline_{b}_test_mae" for b in BASELINES]]
    best = [str(name).removeprefix("baseline_").removesuffix("_test_mae") for name in baseline_mae.idxmin(axis=1)]
    table.insert(0, "best_baseline", best)
    return table


def skill(model_mae: float, best_baseline_mae: float) -> float:
    """1 - model MAE / best baseline MAE: > 0 means the model beats every naive forecast."""
    return 1 - model_mae / best_baseline_mae if best_baseline_mae > 0 else float("nan")


def _predicted_rows(rows: pd.DataFrame, predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    predictions = predictions.reindex(rows.index)
    keep = predictions["p50"].notna().to_numpy()
    if not keep.any():
        raise ValueError("the model predicted none of the evaluation rows")
    return rows[keep], predictions[keep]


def _keyed(rows: pd.DataFrame) -> pd.DataFrame:
    """Point, hour ending and weekday of the delivery date (0 = Monday), from the id columns so the baseline does
    not depend on the caller's feature list; plus the target when present."""
    keyed = pd.DataFrame(
        {
            "settlement_point": rows["settlement_point"].astype(str).to_numpy(),
            "hour_ending": rows["hour_ending"].astype("int64").to_numpy(),
            "day_of_week": pd.to_datetime(rows["delivery_date"]).dt.dayofweek.to_numpy(),
        }
    )
    if TARGET in rows:
        keyed[TARGET] = rows[TARGET].to_numpy()
    return keyed


def _level_name(level: tuple[str, ...]) -> str:
    return "|".join(level)


def _joined(keyed: pd.DataFrame, level: tuple[str, ...]) -> pd.Series:
    """JSON-safe keys such as "HB_WEST|14|2" (tuples cannot be JSON object keys)."""
    joined = keyed[level[0]].astype(str)
    for column in level[1:]:
        joined = joined + "|" + keyed[column].astype(str)
    return joined

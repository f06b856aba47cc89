"""Metrics and naive baselines shared by every model family, so all runs are scored the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from dart_assets.ml.dataset import TARGET

BASELINES = ("zero", "same_hour", "hour_dow")
POINT_METRICS = ("rmse", "mae", "r2", "sign_accuracy")


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


def baseline_predictions(rows: pd.DataFrame, train: pd.DataFrame) -> dict[str, np.ndarray]:
    """Naive forecasts for `rows`, knowing only what a trader would know at decision time.

    - zero: no spread.
    - same_hour: the same hour's DART on the latest fully known day (`dart_lag_2d`); where that lag is NaN
      (start of history) it falls back to 0, the zero baseline.
    - hour_dow: median training DART by hour_ending x day_of_week, falling back to the hour_ending median,
      then the overall training median, for combinations training never saw.
    """
    overall = float(train[TARGET].median())
    by_hour = train.groupby("hour_ending")[TARGET].median()
    by_hour_dow = train.groupby(["hour_ending", _day_of_week(train)])[TARGET].median()
    keys = pd.MultiIndex.from_arrays([rows["hour_ending"], _day_of_week(rows)])
    hour_dow = by_hour_dow.reindex(keys).to_numpy()
    hour_dow = np.where(np.isnan(hour_dow), by_hour.reindex(rows["hour_ending"]).to_numpy(), hour_dow)
    return {
        "zero": np.zeros(len(rows)),
        "same_hour": rows["dart_lag_2d"].fillna(0.0).to_numpy(dtype="float64"),
        "hour_dow": np.where(np.isnan(hour_dow), overall, hour_dow),
    }


def comparison_table(
    actual: ArrayLike, predicted: ArrayLike, baselines: dict[str, np.ndarray], model_name: str = "model"
) -> pd.DataFrame:
    """Rows: the model then each baseline (`baseline_<name>`); columns: rmse, mae, r2, sign_accuracy."""
    rows = {model_name: point_scores(actual, predicted)}
    rows.update({f"baseline_{name}": point_scores(actual, values) for name, values in baselines.items()})
    return pd.DataFrame.from_dict(rows, orient="index")[list(POINT_METRICS)]


def evaluate(
    train: pd.DataFrame,
    val: pd.DataFrame,
    test: pd.DataFrame,
    val_pred: pd.DataFrame,
    test_pred: pd.DataFrame,
    model_name: str = "model",
) -> tuple[dict[str, float], pd.DataFrame]:
    """The flat MLflow metric dict and the test comparison table.

    Only rows the model predicted (p50 not NaN: the LSTM skips rows without a full look-back window) are
    scored, and the baselines are scored on exactly those rows.
    """
    val_rows, val_pred = _predicted_rows(val, val_pred)
    test_rows, test_pred = _predicted_rows(test, test_pred)
    val_actual, test_actual = val_rows[TARGET].to_numpy(), test_rows[TARGET].to_numpy()
    test_baselines = baseline_predictions(test_rows, train)
    val_baseline_mae = min(mae(val_actual, v) for v in baseline_predictions(val_rows, train).values())
    table = comparison_table(test_actual, test_pred["p50"].to_numpy(), test_baselines, model_name)
    scores = table.to_dict("index")
    model = scores[model_name]
    metrics: dict[str, float] = {
        "val_rmse": rmse(val_actual, val_pred["p50"]),
        "val_mae": mae(val_actual, val_pred["p50"]),
        "test_rmse": float(model["rmse"]),
        "test_mae": float(model["mae"]),
        "test_r2": float(model["r2"]),
        "test_sign_accuracy": float(model["sign_accuracy"]),
        "test_p10_p90_coverage": interval_coverage(test_actual, test_pred["p10"], test_pred["p90"]),
        "test_pinball_p10": pinball_loss(test_actual, test_pred["p10"], 0.1),
        "test_pinball_p90": pinball_loss(test_actual, test_pred["p90"], 0.9),
    }
    for name in BASELINES:
        metrics[f"baseline_{name}_test_mae"] = float(scores[f"baseline_{name}"]["mae"])
        metrics[f"baseline_{name}_test_rmse"] = float(scores[f"baseline_{name}"]["rmse"])
    metrics["best_baseline_test_mae"] = min(metrics[f"baseline_{name}_test_mae"] for name in BASELINES)
    metrics["test_mae_skill"] = skill(metrics["test_mae"], metrics["best_baseline_test_mae"])
    metrics["val_mae_skill"] = skill(metrics["val_mae"], val_baseline_mae)
    return metrics, table


def skill(model_mae: float, best_baseline_mae: float) -> float:
    """1 - model MAE / best baseline MAE: > 0 means the model beats every naive forecast."""
    return 1 - model_mae / best_baseline_mae if best_baseline_mae > 0 else float("nan")


def _predicted_rows(rows: pd.DataFrame, predictions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    predictions = predictions.reindex(rows.index)
    keep = predictions["p50"].notna().to_numpy()
    if not keep.any():
        raise ValueError("the model predicted none of the evaluation rows")
    return rows[keep], predictions[keep]


def _day_of_week(frame: pd.DataFrame) -> pd.Series:
    """Day of week of the delivery date (0 = Monday), computed from the id column so the baseline does not
    depend on the caller's feature list."""
    return pd.to_datetime(frame["delivery_date"]).dt.dayofweek.rename("day_of_week")

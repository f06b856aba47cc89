"""Trend + Fourier seasonality regression for hourly transformer load.

A polynomial trend in years plus sine/cosine terms at the daily, weekly and yearly periods, fitted by ordinary
least squares. Unlike tree models it extrapolates the growth trend, which is the whole point of asking when
the transformer overloads. The trend degree (linear or quadratic) is chosen on a chronological validation
split; the hourly prediction band is the P05-P95 range of out-of-sample residuals (validation + test), so it
describes hour-to-hour scatter around the trend, not uncertainty in the trend itself.

The fitted model is a plain JSON-able dict (coefficients, feature spec, band, data window, metrics, seed, code
version); `predict` on the reloaded dict reproduces the same numbers exactly. No pickles.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dart_assets.common.split import chronological_split
from dart_assets.common.versions import code_version
from dart_assets.ml.metrics import mae, rmse
from dart_assets.transformer.history import HOURS_PER_YEAR

# Period in hours -> number of harmonics. Three per cycle is enough for smooth daily/weekly/yearly shapes
# without fitting noise (21 columns + trend on ~26k hours).
SEASONAL_HARMONICS = {"daily": (24.0, 3), "weekly": (168.0, 3), "yearly": (HOURS_PER_YEAR, 3)}
TREND_DEGREES = (1, 2)
# A quadratic trend must beat the linear one on validation RMSE by this fraction to be chosen: with a few
# months of validation a tiny gain is noise, and a spurious curvature explodes over a five-year horizon.
QUADRATIC_MIN_GAIN = 0.02
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
BAND_QUANTILES = (0.05, 0.95)


def design_matrix(timestamps: pd.Series | pd.DatetimeIndex, spec: dict) -> np.ndarray:
    """Columns: 1, t, [t^2], then sin/cos of each harmonic of each period; t in years since `spec['origin']`."""
    hours = np.asarray((pd.DatetimeIndex(timestamps) - pd.Timestamp(spec["origin"])) / pd.Timedelta(hours=1))
    years = hours / HOURS_PER_YEAR
    columns = [years**power for power in range(spec["trend_degree"] + 1)]
    for period_hours, harmonics in spec["seasonal"].values():
        for k in range(1, harmonics + 1):
            angle = 2 * np.pi * k * hours / period_hours
            columns += [np.sin(angle), np.cos(angle)]
    return np.column_stack(columns)


def feature_spec(origin: pd.Timestamp, trend_degree: int) -> dict:
    """What `design_matrix` needs, in JSON-able form; stored with the coefficients."""
    return {
        "origin": f"{pd.Timestamp(origin):%Y-%m-%d %H:%M}",
        "trend_degree": trend_degree,
        "seasonal": {name: [period, harmonics] for name, (period, harmonics) in SEASONAL_HARMONICS.items()},
    }


def _least_squares(frame: pd.DataFrame, spec: dict) -> list[float]:
    coefficients, *_ = np.linalg.lstsq(design_matrix(frame["timestamp"], spec), frame["kw"].to_numpy(), rcond=None)
    return [float(c) for c in coefficients]


def _predict_with(coefficients: list[float], spec: dict, timestamps) -> np.ndarray:
    return design_matrix(timestamps, spec) @ np.asarray(coefficients)


def _errors(actual: pd.Series, predicted: np.ndarray) -> dict:
    return {"rmse": rmse(actual.to_numpy(), predicted), "mae": mae(actual.to_numpy(), predicted)}


def fit(history: pd.DataFrame, seed: int | None = None) -> dict:
    """Choose the trend degree on validation, score on test, set the band, then refit on all history.

    `seed` is the data generator's seed when the history is synthetic; it is recorded, not used (least
    squares is deterministic).
    """
    split = chronological_split(history, "timestamp", SPLIT_FRACTIONS)
    origin = history["timestamp"].iloc[0]
    candidates = {}
    for degree in TREND_DEGREES:
        spec = feature_spec(origin, degree)
        coefficients = _least_squares(split.train, spec)
        candidates[degree] = (
            spec,
            coefficients,
            _errors(split.val["kw"], _predict_with(coefficients, spec, split.val["timestamp"])),
        )
    linear_rmse, quadratic_rmse = candidates[1][2]["rmse"], candidates[2][2]["rmse"]
    degree = 2 if quadratic_rmse < linear_rmse * (1 - QUADRATIC_MIN_GAIN) else 1
    spec, train_coefficients, val_errors = candidates[degree]

    holdout = pd.concat([split.val, split.test])
    holdout_residuals = holdout["kw"].to_numpy() - _predict_with(train_coefficients, spec, holdout["timestamp"])
    test_errors = _errors(split.test["kw"], _predict_with(train_coefficients, spec, split.test["timestamp"]))
    low, high = np.quantile(holdout_residuals, BAND_QUANTILES)

    def window(frame: pd.DataFrame) -> list[str]:
        return [f"{frame['timestamp'].iloc[0]:%Y-%m-%d %H:%M}", f"{frame['timestamp'].iloc[-1]:%Y-%m-%d %H:%M}"]

    return {
        "kind": "trend_fourier_ols",
        "code_version": code_version(),
        "seed": seed,
        "feature_spec": spec,
        "coefficients": _least_squares(history, spec),
        "band": {"quantiles": list(BAND_QUANTILES), "residual_offsets_kw": [float(low), float(high)]},
        "data_window": {
            "all": window(history),
            "train": window(split.train),
            "val": window(split.val),
            "test": window(split.test),
        },
        "metrics": {
            "val_rmse": val_errors["rmse"],
            "val_mae": val_errors["mae"],
            "test_rmse": test_errors["rmse"],
            "test_mae": test_errors["mae"],
            "val_rmse_linear": linear_rmse,
            "val_rmse_quadratic": quadratic_rmse,
        },
    }


def predict(model: dict, timestamps) -> pd.DataFrame:
    """Point forecast and band (`kw`, `kw_low`, `kw_high`) at the given hours, from the JSON-able model dict."""
    kw = _predict_with(model["coefficients"], model["feature_spec"], timestamps)
    low, high = model["band"]["residual_offsets_kw"]
    return pd.DataFrame({"timestamp": pd.DatetimeIndex(timestamps), "kw": kw, "kw_low": kw + low, "kw_high": kw + high})

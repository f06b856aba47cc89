"""Next-day DART forecasts from the champion, and how good they turned out to be.

The forecast for delivery day D is built by the same `features.build_features` as the training table, from
market data loaded up to the decision time (D-1 09:00 Central) and the driver forecasts issued for D, so
training and serving cannot drift apart and no feature can see past the cutoff.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd

from dart_assets import features
from dart_assets.market import schemas
from dart_assets.market.timeutil import decision_time_utc
from dart_assets.ml import metrics

HISTORY_DAYS = 10  # lags reach back 7 days, rolling windows 2+7 days; the LSTM also needs D-1's rows
FORECAST_COLUMNS = [
    "timestamp_utc",
    "delivery_date",
    "hour_ending",
    "repeated_hour",
    "settlement_point",
    "dart_p10",
    "dart_forecast",
    "dart_p90",
]


class FeatureMismatchError(RuntimeError):
    """The champion was trained on features the current data cannot provide."""


def known_at_decision_time(dam: pd.DataFrame, rtm: pd.DataFrame, system: pd.DataFrame | None, day: pd.Timestamp):
    """Drop anything not public at D-1 09:00: DAM after D-1, RTM after D-2, driver actuals after D-2."""
    day = pd.Timestamp(day).normalize()
    dam = dam[dam["delivery_date"] <= day - pd.Timedelta(days=features.DAM_KNOWN_LAG_DAYS)]
    rtm = rtm[rtm["delivery_date"] <= day - pd.Timedelta(days=features.RTM_KNOWN_LAG_DAYS)]
    if system is not None:
        system = system[system["delivery_date"] < day].copy()
        after_cutoff = system["delivery_date"] > day - pd.Timedelta(days=features.RTM_KNOWN_LAG_DAYS)
        actuals = [c for c in schemas.DRIVER_ACTUALS if c in system]
        system.loc[after_cutoff, actuals] = np.nan  # D-1's forecasts were public, its actuals were not
    return dam, rtm, system


def forecast_day(
    model,
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    system: pd.DataFrame | None,
    driver_forecasts: pd.DataFrame | None,
    points: list[str],
    day,
) -> pd.DataFrame:
    """The champion's P10/P50/P90 DART for every hour of `day` and point, from decision-time data only."""
    day = pd.Timestamp(day).normalize()
    dam, rtm, system = known_at_decision_time(dam, rtm, system, day)
    if driver_forecasts is not None:
        system = pd.concat([f for f in (system, driver_forecasts) if f is not None and len(f)], ignore_index=True)
    # Rows before D only serve as the model's history (an LSTM's look-back; 23 hours per day at worst).
    history_days = max(1, math.ceil(((model.metadata.get("history_hours") or 1) - 1) / 23))
    table = features.build_features(
        dam, rtm, system, points, days=list(pd.date_range(day - pd.Timedelta(days=history_days), day))
    )
    wanted = model.metadata["feature_columns"]
    missing = sorted(set(wanted) - set(table.columns))
    if missing:
        raise FeatureMismatchError(
            f"the champion ({model.family}) needs features {missing} that the current data source does not provide; "
            "retrain on the current data: materialize hourly_features, lgbm_model, xgb_model, lstm_model and "
            "promoted_model"
        )
    predictions = model.predict(table)
    out = table[["timestamp_utc", "delivery_date", "hour_ending", "repeated_hour", "settlement_point"]].copy()
    out["dart_p10"], out["dart_forecast"], out["dart_p90"] = predictions["p10"], predictions["p50"], predictions["p90"]
    out = out[out["delivery_date"] == day].reset_index(drop=True)
    if out["dart_forecast"].isna().any():
        raise ValueError(
            f"{day.date()}: the champion produced no forecast for {int(out['dart_forecast'].isna().sum())} hour(s)"
        )
    # Quantile models are fitted separately; keep the band ordered.
    out["dart_p10"] = np.minimum(out["dart_p10"], out["dart_forecast"])
    out["dart_p90"] = np.maximum(out["dart_p90"], out["dart_forecast"])
    out["decision_time_utc"] = decision_time_utc(day, features.DECISION_HOUR_LOCAL)
    return out


def score_day(forecast: pd.DataFrame, dam: pd.DataFrame, rtm: pd.DataFrame) -> dict[str, float] | None:
    """Forecast vs realised DART for one delivery day; None if the actuals are not all in yet."""
    keys = ["timestamp_utc", "settlement_point"]
    actual = dam[[*keys, "dam_price"]].merge(rtm[[*keys, "rtm_price"]], on=keys)
    joined = forecast.merge(actual, on=keys, how="left")
    if joined[["dam_price", "rtm_price"]].isna().any().any():
        return None
    dart = (joined["dam_price"] - joined["rtm_price"]).to_numpy()
    forecast_p50, zero = joined["dart_forecast"].to_numpy(), np.zeros(len(joined))
    return {
        "hours": float(len(joined)),
        "mae": metrics.mae(dart, forecast_p50),
        "rmse": metrics.rmse(dart, forecast_p50),
        "sign_accuracy": metrics.sign_accuracy(dart, forecast_p50),
        "band_coverage": metrics.interval_coverage(dart, joined["dart_p10"], joined["dart_p90"]),
        "zero_mae": metrics.mae(dart, zero),
        "zero_rmse": metrics.rmse(dart, zero),
    }


def rolling_view(daily: pd.DataFrame, window_days: int = 14) -> dict[str, float]:
    """Hour-weighted MAE of the model and the zero-spread baseline over the last `window_days` scored days."""
    recent = daily.sort_values("delivery_date").tail(window_days)
    hours = recent["hours"]
    return {
        "days": float(len(recent)),
        "mae": float((recent["mae"] * hours).sum() / hours.sum()),
        "zero_mae": float((recent["zero_mae"] * hours).sum() / hours.sum()),
        "band_coverage": float((recent["band_coverage"] * hours).sum() / hours.sum()),
        "sign_accuracy": float((recent["sign_accuracy"] * hours).sum() / hours.sum()),
    }


def forecast_chart(forecast: pd.DataFrame, title: str) -> bytes:
    """PNG: each point's 24 hourly forecasts with the P10-P90 band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(forecast["settlement_point"].unique())
    figure, axes = plt.subplots(len(points), 1, figsize=(9, 2.6 * len(points)), squeeze=False, sharex=True)
    for ax, point in zip(axes[:, 0], points, strict=True):
        rows = forecast[forecast["settlement_point"] == point].sort_values("timestamp_utc")
        x = np.arange(len(rows))
        ax.fill_between(x, rows["dart_p10"], rows["dart_p90"], alpha=0.3, label="P10-P90")
        ax.plot(x, rows["dart_forecast"], marker="o", markersize=3, label="forecast")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.set(ylabel="$/MWh", title=point)
        ax.set_xticks(x[::2], [f"HE{h:02d}" for h in rows["hour_ending"]][::2], fontsize=7)
    axes[0, 0].legend(loc="upper right")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    return buffer.getvalue()

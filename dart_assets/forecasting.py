"""Next-day DART forecasts from the champion, and how good they turned out to be.

The forecast for delivery day D is built by the same `features.build_features` as the training table, from the
rows public at D's decision time (D-1 at DART_DECISION_TIME Central, before the DAM closes) under the rules of
`features`, so training and serving cannot drift apart and no feature can see past the cutoff.
"""

from __future__ import annotations

import datetime as dt
import io
import math

import numpy as np
import pandas as pd

from dart_assets import features
from dart_assets.market import schemas
from dart_assets.market.timeutil import DEFAULT_DECISION_TIME, decision_time_utc, decision_times_utc
from dart_assets.ml import conformal, metrics

# The band of D reads the model's misses on days D-8..D-2 (`conformal.recent_shifts`), whose own lags and rolling
# windows reach back LOOKBACK_DAYS further; an LSTM champion's look-back (up to 48 h) adds 3 days of rows.
LSTM_HISTORY_DAYS = 3
HISTORY_DAYS = features.LOOKBACK_DAYS + conformal.RECENT_FIRST_LAG_DAYS + LSTM_HISTORY_DAYS
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


class MissingInputError(ValueError):
    """A key input of the day being forecast (D-1's DAM and morning RTM, D-2's RTM, D's forecasts) is absent."""


def known_at_decision_time(
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    system: pd.DataFrame | None,
    forecasts: pd.DataFrame | None,
    day,
    decision_time: dt.time = DEFAULT_DECISION_TIME,
):
    """Drop every row not public at D's decision time (the rules of `features`): DAM of D and later, RTM and
    actuals of hours not published yet, forecast postings stamped after the decision minute."""
    day = pd.Timestamp(day).normalize()
    cutoff = decision_time_utc(day, decision_time)
    dam = dam[dam["delivery_date"] <= day - pd.Timedelta(days=features.DAM_KNOWN_LAG_DAYS)]
    rtm = rtm[features.rtm_published(rtm["timestamp_utc"], cutoff)]
    if system is not None:
        system = system[features.actual_published(system["timestamp_utc"], cutoff)]
    if forecasts is not None:
        forecasts = forecasts[features.posting_known(forecasts[schemas.POSTED_COLUMN], cutoff)]
    return dam, rtm, system, forecasts


def decision_table(
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    system: pd.DataFrame | None,
    forecasts: pd.DataFrame | None,
    points: list[str],
    days,
    decision_time: dt.time = DEFAULT_DECISION_TIME,
    history_days: int = 0,
) -> pd.DataFrame:
    """The feature rows of `days` (and `history_days` days before the first) from what is public at each day's own
    decision time: rows are as of their own decision times (`features.build_features`), and nothing published
    after the LAST day's decision time reaches the build at all.

    Raises MissingInputError naming the first missing day and table (and how many more) instead of building rows on
    NaN lags.
    """
    days = sorted({pd.Timestamp(d).normalize() for d in days})
    dam, rtm, system, forecasts = known_at_decision_time(dam, rtm, system, forecasts, days[-1], decision_time)
    gaps = features.gap_report(dam, rtm, forecasts, points, days, decision_time)
    if len(gaps):
        first = gaps.iloc[0]
        same = gaps[(gaps["table"] == first["table"]) & (gaps["day"] == first["day"])]
        others = len(gaps[["table", "day"]].drop_duplicates()) - 1
        more = f" (and {others} more missing input(s))" if others else ""
        short = sorted(gaps["delivery_date"].dt.date.unique())
        which = f"; days that cannot be forecast: {', '.join(map(str, short))}" if len(days) > 1 else ""
        raise MissingInputError(features.describe_gap(first, list(same["settlement_point"])) + more + which)
    calendar = list(pd.date_range(days[0] - pd.Timedelta(days=history_days), days[-1]))
    return features.build_features(
        dam, rtm, system, points, days=calendar, forecasts=forecasts, decision_time=decision_time
    )


def forecast_days(
    model,
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    system: pd.DataFrame | None,
    driver_forecasts: pd.DataFrame | None,
    points: list[str],
    days,
    *,
    decision_time: dt.time = DEFAULT_DECISION_TIME,
) -> pd.DataFrame:
    """The served P10/P50/P90 DART for every hour and point of each delivery day in `days` (the morning run: one
    day; a backfill: many, in one pass), each day from what was public at its own decision time.

    One pass is exact, not an approximation: every row's features are as of its own day's decision time, a model
    reads only feature columns, and each day's band reads the known misses of its days D-8..D-2, all settled before
    its decision time. The rows of the 8 days before the first go along for those misses, and for an LSTM's
    look-back (23 hours per day at worst).
    """
    days = sorted({pd.Timestamp(d).normalize() for d in days})
    lookback_days = math.ceil(((model.metadata.get("history_hours") or 1) - 1) / 23)
    history_days = conformal.RECENT_FIRST_LAG_DAYS + lookback_days
    table = decision_table(dam, rtm, system, driver_forecasts, points, days, decision_time, history_days)
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
    out = out[out["delivery_date"].isin(days)].reset_index(drop=True)
    if out["dart_forecast"].isna().any():
        empty = out[out["dart_forecast"].isna()].groupby(out["delivery_date"].dt.date).size()
        raise ValueError(
            "the champion produced no forecast for " + ", ".join(f"{n} hour(s) of {day}" for day, n in empty.items())
        )
    # Quantile models are fitted separately; keep the band ordered.
    out["dart_p10"] = np.minimum(out["dart_p10"], out["dart_forecast"])
    out["dart_p90"] = np.maximum(out["dart_p90"], out["dart_forecast"])
    out["decision_time_utc"] = decision_times_utc(out["delivery_date"], decision_time).to_numpy()
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
    """PNG: each point's 24 hourly forecasts with the P10-P90 band. Drawn on a bare Figure: pyplot's import and
    its global figure registry would double the chart's share of the morning run."""
    from matplotlib.figure import Figure

    points = sorted(forecast["settlement_point"].unique())
    figure = Figure(figsize=(9, 2.6 * len(points)))
    axes = figure.subplots(len(points), 1, squeeze=False, sharex=True)
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
    return buffer.getvalue()

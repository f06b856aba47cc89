"""hourly_features: the DART target and what a trader knows at the decision time. The cutoff lives here, once.

Decision time for delivery day D is D-1 09:00 Central, before the day-ahead market closes at 10:00. What is
known then, and so the only inputs a feature for day D may use:
- DAM prices of days up to D-1 (D-1's DAM cleared on D-2 afternoon);
- RTM prices (and so DART) of days up to D-2: the latest fully settled day. D-1's early-morning RTM is also
  public by 09:00, but a daily forecast run cannot count on it being in the store, so it is left out;
- day-ahead forecasts of load, wind, solar and temperature for D (issued before the decision time), or, for
  sources without forecasts, the actuals of D-2 at the same hour.
Every lag below is a whole number of days at least as large as these, so no feature can see past the cutoff;
`dart_assets_tests/test_features.py` proves it by perturbing everything observed after the cutoff.
"""

from __future__ import annotations

import pandas as pd

from dart_assets.market import schemas
from dart_assets.market.timeutil import day_hours, ercot_holidays

TARGET = "dart"
SAME_HOUR_PRICES = ["dam_price", "rtm_price"]  # the target's parts: never features
ID_COLUMNS = ["timestamp_utc", "delivery_date", "repeated_hour", "settlement_point"]
DECISION_HOUR_LOCAL = 9
RTM_KNOWN_LAG_DAYS = 2  # latest fully settled RTM day at the decision time
DAM_KNOWN_LAG_DAYS = 1  # latest cleared DAM day at the decision time
ROLLING_DAYS = 7
SLOT = ["settlement_point", "delivery_date", "hour_ending"]


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Model inputs: everything but identifiers, the target and the same-hour prices it is made of."""
    excluded = set(ID_COLUMNS) | {TARGET, *SAME_HOUR_PRICES}
    return [c for c in frame.columns if c not in excluded]


def _grid(days: list[pd.Timestamp], points: list[str]) -> pd.DataFrame:
    hours = pd.concat([day_hours(d) for d in days], ignore_index=True)
    return hours.merge(pd.DataFrame({"settlement_point": list(points)}), how="cross")


def _by_slot(frame: pd.DataFrame, value: str) -> pd.DataFrame:
    """One value per (point, day, hour ending): a fall-back day's repeated hour is averaged with its twin."""
    return frame.groupby(SLOT, as_index=False)[[value]].mean()


def _same_hour_lag(slots: pd.DataFrame, value: str, days: int) -> pd.DataFrame:
    lagged = slots.copy()
    lagged["delivery_date"] = lagged["delivery_date"] + pd.Timedelta(days=days)
    return lagged.rename(columns={value: f"{value.removesuffix('_price')}_lag_{days}d"})


def _daily_matrix(slots: pd.DataFrame, value: str, calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Rows (point, day) on a gap-free calendar, columns hour ending 1..24: lags become row shifts."""
    wide = slots.pivot_table(index=["settlement_point", "delivery_date"], columns="hour_ending", values=value)
    points = wide.index.get_level_values(0).unique()
    full = pd.MultiIndex.from_product([points, calendar], names=["settlement_point", "delivery_date"])
    return wide.reindex(full)


def _rolling_features(dart: pd.DataFrame, rtm: pd.DataFrame, dam: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Same-hour and daily statistics over known days only, shifted so day D sees days <= D-lag."""
    by_point = lambda m: m.groupby(level="settlement_point", group_keys=False)  # noqa: E731
    shift_rtm = lambda m: by_point(m).shift(RTM_KNOWN_LAG_DAYS)  # noqa: E731
    mean7 = shift_rtm(by_point(dart).rolling(ROLLING_DAYS, min_periods=3).mean().droplevel(0))
    std7 = shift_rtm(by_point(dart).rolling(ROLLING_DAYS, min_periods=3).std().droplevel(0))
    hourly = pd.concat(
        {"dart_mean_7d": mean7.stack(future_stack=True), "dart_std_7d": std7.stack(future_stack=True)}, axis=1
    ).reset_index()
    daily = pd.DataFrame(
        {
            "dart_daily_mean_2d": shift_rtm(dart.mean(axis=1).to_frame()).iloc[:, 0],
            "rtm_daily_max_2d": shift_rtm(rtm.max(axis=1).to_frame()).iloc[:, 0],
            "dam_daily_mean_1d": by_point(dam.mean(axis=1).to_frame()).shift(DAM_KNOWN_LAG_DAYS).iloc[:, 0],
        }
    ).reset_index()
    return hourly, daily


def _driver_features(grid: pd.DataFrame, system: pd.DataFrame | None) -> pd.DataFrame:
    """Day-ahead driver forecasts for the row's own hour; lagged actuals where a source has no forecasts."""
    if system is None or system.empty:
        return grid
    forecasts = [c for c in schemas.SYSTEM_FORECASTS if c in system and system[c].notna().any()]
    if forecasts:
        out = grid.merge(system[["timestamp_utc", *forecasts]], on="timestamp_utc", how="left")
        if {"load_forecast_mw", "wind_forecast_mw", "solar_forecast_mw"} <= set(forecasts):
            out["net_load_forecast_mw"] = out["load_forecast_mw"] - out["wind_forecast_mw"] - out["solar_forecast_mw"]
        return out
    actuals = [c for c in schemas.DRIVER_ACTUALS if c in system and system[c].notna().any()]
    slots = system.groupby(["delivery_date", "hour_ending"], as_index=False)[actuals].mean()
    slots["delivery_date"] = slots["delivery_date"] + pd.Timedelta(days=RTM_KNOWN_LAG_DAYS)
    slots = slots.rename(columns={c: f"{c}_lag_{RTM_KNOWN_LAG_DAYS}d" for c in actuals})
    return grid.merge(slots, on=["delivery_date", "hour_ending"], how="left")


def build_features(
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    system: pd.DataFrame | None,
    points: list[str] | tuple[str, ...],
    days: list[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """The hourly feature table for `days` (default: every day any input covers) and `points`.

    `dart` is NaN for hours whose DAM or RTM price is not in the inputs (e.g. the day being forecast).
    """
    points = list(points)
    if days is None:
        present = [f["delivery_date"] for f in (dam, rtm, system) if f is not None and len(f)]
        if not present:
            raise ValueError("hourly_features: no market data to build features from")
        days = sorted(pd.concat(present).drop_duplicates())
    days = [pd.Timestamp(d).normalize() for d in days]
    grid = _grid(days, points)

    dam = dam[dam["settlement_point"].isin(points)]
    rtm = rtm[rtm["settlement_point"].isin(points)]
    prices = grid.merge(
        dam[["timestamp_utc", "settlement_point", "dam_price"]], on=["timestamp_utc", "settlement_point"], how="left"
    )
    prices = prices.merge(
        rtm[["timestamp_utc", "settlement_point", "rtm_price"]], on=["timestamp_utc", "settlement_point"], how="left"
    )
    prices[TARGET] = prices["dam_price"] - prices["rtm_price"]

    dam_slots = _by_slot(dam, "dam_price")
    rtm_slots = _by_slot(rtm, "rtm_price")
    known = rtm.merge(dam, on=["timestamp_utc", "settlement_point", "delivery_date", "hour_ending", "repeated_hour"])
    dart_slots = _by_slot(known.assign(dart=known["dam_price"] - known["rtm_price"]), TARGET)

    out = prices
    for slots, value, lags in (
        (dart_slots, TARGET, (2, 3, 7)),
        (rtm_slots, "rtm_price", (2, 7)),
        (dam_slots, "dam_price", (1, 7)),
    ):
        for lag in lags:
            out = out.merge(_same_hour_lag(slots, value, lag), on=SLOT, how="left")

    first = min([days[0], *(f["delivery_date"].min() for f in (dam, rtm) if len(f))])
    calendar = pd.date_range(first, days[-1], freq="D", name="delivery_date")
    hourly, daily = _rolling_features(
        _daily_matrix(dart_slots, TARGET, calendar),
        _daily_matrix(rtm_slots, "rtm_price", calendar),
        _daily_matrix(dam_slots, "dam_price", calendar),
    )
    out = out.merge(hourly, on=SLOT, how="left").merge(daily, on=["settlement_point", "delivery_date"], how="left")

    holidays = ercot_holidays(days[0].date(), days[-1].date())
    out["day_of_week"] = out["delivery_date"].dt.dayofweek.astype("int64")
    out["month"] = out["delivery_date"].dt.month.astype("int64")
    out["is_holiday"] = out["delivery_date"].dt.date.isin(holidays).astype("int64")
    out = _driver_features(out, system)
    return out.sort_values(["timestamp_utc", "settlement_point"], ignore_index=True)

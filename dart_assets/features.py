"""hourly_features: the DART target and what a trader knows at the decision time. The cutoff rules live here, once.

The decision time for delivery day D is D-1 at a Central clock time before the day-ahead market closes at 10:00
(default 09:00). What is public then, and so the only inputs a feature for day D may use:
- DAM prices of days up to D-1 (D-1's DAM cleared on D-2 afternoon);
- RTM prices, and so DART, of every hour whose price is published by then: all of D-2 and earlier, and D-1's
  early hours. ERCOT posts each 15-minute real-time SPP a few minutes after its interval ends; an hour's price
  (the mean of its four intervals) is counted as known once the hour has ended plus RTM_PUBLICATION_LAG (15 min,
  margin for late postings): at 09:00 that is HE01-HE08 of D-1, at 09:55 HE01-HE09;
- actual load, wind, solar and temperature of every hour ended ACTUALS_PUBLICATION_LAG (1 h) before: ERCOT's
  hourly actual load and wind/solar production reports post the past hour within the next hour. At 09:00 and at
  09:55 that is HE01-HE08 of D-1;
- driver forecasts: per column, the value of the latest posting with posted_utc at or before the decision time
  that carries the column. Postings are stamped to the second and the decision time is a clock minute, so a
  posting counts from the minute it is stamped with (ERCOT's 09:55:36 posting is known at a 09:55 decision).
The same rules build training rows and the morning run's rows (`forecasting.forecast_days`), and
`dart_assets_tests/test_features.py` proves them by perturbing everything published after the cutoff.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dart_assets.market import schemas
from dart_assets.market.timeutil import (
    DEFAULT_DECISION_TIME,
    check_decision_time,
    day_ranges,
    decision_times_utc,
    ercot_holidays,
    range_hours,
)

TARGET = "dart"
SAME_HOUR_PRICES = ["dam_price", "rtm_price"]  # the target's parts: never features
ID_COLUMNS = ["timestamp_utc", "delivery_date", "repeated_hour", "settlement_point"]
SLOT = ["settlement_point", "delivery_date", "hour_ending"]
HOUR = pd.Timedelta(hours=1)

RTM_PUBLICATION_LAG = pd.Timedelta(minutes=15)
ACTUALS_PUBLICATION_LAG = pd.Timedelta(hours=1)
DAM_KNOWN_LAG_DAYS = 1  # latest cleared DAM day at the decision time
SETTLED_LAG_DAYS = 2  # latest whole day of RTM and actuals at the decision time
ROLLING_DAYS = 7
REGIME_DAYS = 14
SPIKE_DART = -50.0  # an hour whose RTM settled more than $50/MWh above its DAM
# The same hour's recent DART distribution over settled days (D-2 back): what "normal" looks like for this hour.
# On real ERCOT data its 28-day median is the strongest single input (issue 12: 0.75 x it beats every naive
# baseline by ~3% on validation months); the models boost from it (`ml.dataset.ANCHOR_COLUMN`).
PROFILE_DAYS = (14, 28, 56)
PROFILE_QUANTILES = (10, 25, 75, 90)
PROFILE_QUANTILE_DAYS = 28
WEEKLY_PROFILE_WEEKS = 8
# The oldest day any feature of D reads: the longest profile window ends at D-2 and spans PROFILE_DAYS[-1] days.
LOOKBACK_DAYS = max(SETTLED_LAG_DAYS + max(REGIME_DAYS, *PROFILE_DAYS) - 1, 7 * WEEKLY_PROFILE_WEEKS)

# The ERCOT regions that drive each settlement point's price: STWPF wind regions, STPPF solar regions, load
# weather zones (NP3-565-CD) and the load forecast zone (NP3-560-CD). Approximate geography: a hub or load zone
# sits in the weather zones it is named after; the system-average hubs have no region.
WEST = {"wind": ("west",), "solar": ("farwest",), "load": ("farwest", "west"), "load_zone": ("west",)}
NORTH = {"wind": ("north",), "solar": ("centereast",), "load": ("north", "northcentral"), "load_zone": ("north",)}
HOUSTON = {"wind": ("coastal",), "solar": ("southeast",), "load": ("coast",), "load_zone": ("houston",)}
SOUTH = {"wind": ("south",), "solar": ("southeast",), "load": ("southern", "southcentral"), "load_zone": ("south",)}
CENTRAL = {"wind": ("south",), "solar": ("centereast",), "load": ("southcentral",), "load_zone": ("south",)}
REGIONS: dict[str, Mapping[str, tuple[str, ...]]] = {
    "HB_WEST": WEST,
    "LZ_WEST": WEST,
    "HB_PAN": {"wind": ("panhandle",), "solar": ("northwest",), "load": ("west", "north"), "load_zone": ("west",)},
    "HB_NORTH": NORTH,
    "LZ_NORTH": NORTH,
    "LZ_RAYBN": {"wind": ("north",), "solar": ("fareast",), "load": ("east", "northcentral"), "load_zone": ("north",)},
    "HB_HOUSTON": HOUSTON,
    "LZ_HOUSTON": HOUSTON,
    "HB_SOUTH": SOUTH,
    "LZ_SOUTH": SOUTH,
    "LZ_AEN": CENTRAL,
    "LZ_CPS": CENTRAL,
    "LZ_LCRA": CENTRAL,
}
REGION_COLUMN = {
    "wind": "wind_forecast_{}_mw",
    "solar": "solar_forecast_{}_mw",
    "load": "load_forecast_{}_mw",
    "load_zone": "load_forecast_zone_{}_mw",
}
NET_LOAD_PARTS = ("load", "wind", "solar")


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Model inputs: everything but identifiers, the target and the same-hour prices it is made of."""
    excluded = set(ID_COLUMNS) | {TARGET, *SAME_HOUR_PRICES}
    return [c for c in frame.columns if c not in excluded]


# --- the cutoff rules -------------------------------------------------------------------------------------------


def rtm_published(timestamp_utc: pd.Series, decision_utc) -> pd.Series:
    """An hour's RTM price is public once the hour has ended plus the publication lag."""
    return timestamp_utc + HOUR + RTM_PUBLICATION_LAG <= decision_utc


def actual_published(timestamp_utc: pd.Series, decision_utc) -> pd.Series:
    """An hour's actual load/wind/solar/temperature is public once the hour has ended plus its lag."""
    return timestamp_utc + HOUR + ACTUALS_PUBLICATION_LAG <= decision_utc


def posting_known(posted_utc: pd.Series, decision_utc) -> pd.Series:
    """A forecast posting is known from the minute it is stamped with."""
    return posted_utc.dt.floor("min") <= decision_utc


def _decision_for_next_day(frame: pd.DataFrame, decision_time: dt.time) -> pd.Series:
    """For rows of day X: the decision time of day X+1, when X's early hours may already be public."""
    return decision_times_utc(frame["delivery_date"] + pd.Timedelta(days=1), decision_time)


def known_forecasts(forecasts: pd.DataFrame | None, decision_time: dt.time) -> pd.DataFrame | None:
    """One row per delivery hour: each forecast column from the latest posting at or before its delivery day's
    decision time that carries it. None when there are no forecast columns."""
    if forecasts is None or not (columns := [c for c in schemas.DRIVER_FORECASTS if c in forecasts]):
        return None
    known = forecasts[
        posting_known(forecasts[schemas.POSTED_COLUMN], decision_times_utc(forecasts["delivery_date"], decision_time))
    ]
    by_hour = known.sort_values(schemas.POSTED_COLUMN).groupby("timestamp_utc")
    keys = by_hour[["delivery_date", "hour_ending", "repeated_hour"]].first()
    return pd.concat([keys, by_hour[columns].last()], axis=1).reset_index()  # last() skips a posting's NaN


# --- building blocks ---------------------------------------------------------------------------------------------


def _grid(days: list[pd.Timestamp], points: list[str]) -> pd.DataFrame:
    hours = range_hours(days[0], days[-1])
    hours = hours[hours["delivery_date"].isin(days)]
    return hours.merge(pd.DataFrame({"settlement_point": list(points)}), how="cross")


def _by_slot(frame: pd.DataFrame, value: str, keys: list[str] = SLOT) -> pd.DataFrame:
    """One value per (point, day, hour ending): a fall-back day's repeated hour is averaged with its twin."""
    return frame.groupby(keys, as_index=False)[[value]].mean()


def _shift_days(frame: pd.DataFrame, days: int) -> pd.DataFrame:
    return frame.assign(delivery_date=frame["delivery_date"] + pd.Timedelta(days=days))


def _same_hour_lag(slots: pd.DataFrame, value: str, days: int) -> pd.DataFrame:
    return _shift_days(slots, days).rename(columns={value: f"{value.removesuffix('_price')}_lag_{days}d"})


def _daily_matrix(slots: pd.DataFrame, value: str, calendar: pd.DatetimeIndex, points: list[str]) -> pd.DataFrame:
    """Rows (point, day) on a gap-free calendar, columns hour ending 1..24: lags become row shifts."""
    wide = slots.set_index(["settlement_point", "delivery_date", "hour_ending"])[value].unstack("hour_ending")
    full = pd.MultiIndex.from_product([points, calendar], names=["settlement_point", "delivery_date"])
    return wide.reindex(index=full, columns=range(1, 25))


def _rolling_features(dart: pd.DataFrame, rtm: pd.DataFrame, dam: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Same-hour and daily statistics over settled days only, shifted so day D sees days <= D-2 (DAM: D-1)."""
    by_point = lambda m: m.groupby(level="settlement_point", group_keys=False)  # noqa: E731
    settled = lambda m: by_point(m).shift(SETTLED_LAG_DAYS)  # noqa: E731

    def rolling_sum(m: pd.DataFrame, days: int) -> pd.DataFrame:
        return settled(by_point(m).rolling(days, min_periods=3).sum().droplevel(0))

    def dam_of_d1(daily: pd.Series) -> pd.Series:
        return by_point(daily.to_frame()).shift(DAM_KNOWN_LAG_DAYS).iloc[:, 0]

    week = by_point(dart).rolling(ROLLING_DAYS, min_periods=3)
    same_hour = {
        "dart_mean_7d": settled(week.mean().droplevel(0)),
        "dart_std_7d": settled(week.std().droplevel(0)),
        "dart_median_7d": settled(week.median().droplevel(0)),
        **_profile(dart, by_point, settled),
    }
    hourly = pd.concat({name: m.stack(future_stack=True) for name, m in same_hour.items()}, axis=1).reset_index()

    # Regime: how volatile and spiky the last settled days were, from per-day sums (a day without data is NaN).
    per_day = pd.DataFrame(
        {
            "rtm_n": rtm.count(axis=1),
            "rtm_sum": rtm.sum(axis=1),
            "rtm_sq": (rtm**2).sum(axis=1),
            "dart_n": dart.count(axis=1),
            "dart_sum": dart.sum(axis=1),
            "dart_sq": (dart**2).sum(axis=1),
            "dart_abs": dart.abs().sum(axis=1),
            "spikes": (dart < SPIKE_DART).sum(axis=1),
        }
    )
    per_day.loc[per_day["rtm_n"] == 0] = np.nan
    week, regime = rolling_sum(per_day, ROLLING_DAYS), rolling_sum(per_day, REGIME_DAYS)
    variance = (week["rtm_sq"] - week["rtm_sum"] ** 2 / week["rtm_n"]) / (week["rtm_n"] - 1)
    dart_variance = (week["dart_sq"] - week["dart_sum"] ** 2 / week["dart_n"]) / (week["dart_n"] - 1)
    daily = pd.DataFrame(
        {
            "dart_daily_mean_2d": settled(dart.mean(axis=1).to_frame()).iloc[:, 0],
            "rtm_daily_max_2d": settled(rtm.max(axis=1).to_frame()).iloc[:, 0],
            "dam_daily_mean_1d": dam_of_d1(dam.mean(axis=1)),
            "dam_daily_std_1d": dam_of_d1(dam.std(axis=1)),
            "rtm_std_7d": np.sqrt(variance.clip(lower=0)),
            "rtm_max_7d": settled(
                by_point(rtm.max(axis=1).to_frame()).rolling(ROLLING_DAYS, min_periods=1).max().droplevel(0)
            ).iloc[:, 0],
            "dart_all_hours_mean_7d": week["dart_sum"] / week["dart_n"],
            "dart_all_hours_std_7d": np.sqrt(dart_variance.clip(lower=0)),
            "dart_abs_mean_7d": week["dart_abs"] / week["dart_n"],
            "rt_spike_hours_7d": week["spikes"],
            "rt_spike_hours_14d": regime["spikes"],
        }
    ).reset_index()
    return hourly, daily


def _profile(dart: pd.DataFrame, by_point, settled) -> dict[str, pd.DataFrame]:
    """The same hour's DART over the last settled days: medians over PROFILE_DAYS, quantiles and their spread over
    PROFILE_QUANTILE_DAYS, and the median of the same hour on the same weekday over WEEKLY_PROFILE_WEEKS weeks.

    NaN days (gaps) are skipped; a window with no settled day at all gives NaN.
    """
    out = {}
    for days in PROFILE_DAYS:
        out[f"dart_median_{days}d"] = settled(by_point(dart).rolling(days, min_periods=1).median().droplevel(0))
    window = by_point(dart).rolling(PROFILE_QUANTILE_DAYS, min_periods=1)
    for q in PROFILE_QUANTILES:
        out[f"dart_q{q}_{PROFILE_QUANTILE_DAYS}d"] = settled(window.quantile(q / 100).droplevel(0))
    n = PROFILE_QUANTILE_DAYS
    out[f"dart_iqr_{n}d"] = out[f"dart_q75_{n}d"] - out[f"dart_q25_{n}d"]
    # D-7, D-14, ..., all settled at D's decision time.
    weeks = np.stack([by_point(dart).shift(7 * k).to_numpy() for k in range(1, WEEKLY_PROFILE_WEEKS + 1)])
    with warnings.catch_warnings():  # an hour with no data in any of those weeks is NaN, as it should be
        warnings.simplefilter("ignore", RuntimeWarning)
        out[f"dart_weekly_median_{WEEKLY_PROFILE_WEEKS}w"] = pd.DataFrame(
            np.nanmedian(weeks, axis=0), index=dart.index, columns=dart.columns
        )
    return out


def _morning_features(slots: pd.DataFrame, value: str, published: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """D-1's hours published before D's decision time: same-hour lag, last hour, mean, change vs D-2's same hours.

    `published` lists the (day X, hour ending) slots public at the decision time of X+1; features are keyed by D.
    """
    name = value.removesuffix("_price")
    today = slots.merge(published, on=["delivery_date", "hour_ending"])
    day_before = _shift_days(slots, 1).merge(published, on=["delivery_date", "hour_ending"])
    by_day = today.sort_values("hour_ending").groupby(["settlement_point", "delivery_date"])[value]
    out = pd.DataFrame(
        {
            f"{name}_last_1d": by_day.last(),
            f"{name}_morning_mean_1d": by_day.mean(),
            f"{name}_morning_max_1d": by_day.max(),
        }
    )
    out[f"{name}_morning_change_1d"] = out[f"{name}_morning_mean_1d"] - day_before.groupby(
        ["settlement_point", "delivery_date"]
    )[value].mean().reindex(out.index)
    same_hour = _shift_days(today, 1).rename(columns={value: f"{name}_lag_1d"})
    return same_hour, _shift_days(out.reset_index(), 1)


def _region_sum(asof: pd.DataFrame, kind: str, point: str) -> pd.Series | None:
    zones = REGIONS.get(point, {}).get(kind)
    columns = [REGION_COLUMN[kind].format(z) for z in zones] if zones else []
    if not columns or any(c not in asof for c in columns):
        return None
    return asof[columns].sum(axis=1, min_count=len(columns))


def _region_feature(kind: str) -> str:
    return REGION_COLUMN.get(kind, "net_load_forecast_{}_mw").format("region")


def _regional_features(asof: pd.DataFrame, points: list[str]) -> pd.DataFrame | None:
    """Each point's own region: wind, solar, load (weather zones and forecast zone) and the regional net load."""
    frames = []
    for point in points:
        parts = {kind: _region_sum(asof, kind, point) for kind in REGION_COLUMN}
        load, wind, solar = (parts[k] for k in NET_LOAD_PARTS)
        if load is not None and wind is not None and solar is not None:
            parts["net_load"] = load - wind - solar
        columns = {_region_feature(kind): s for kind, s in parts.items() if s is not None}
        if columns:
            frames.append(pd.DataFrame({"timestamp_utc": asof["timestamp_utc"], "settlement_point": point, **columns}))
    return pd.concat(frames, ignore_index=True) if frames else None


def _net_load(frame: pd.DataFrame, prefix: str = "") -> pd.Series | None:
    names = [f"{part}_{prefix}" for part in NET_LOAD_PARTS]
    if not set(names) <= set(frame.columns):
        return None
    return frame[names[0]] - frame[names[1]] - frame[names[2]]


def _forecast_features(
    out: pd.DataFrame, asof: pd.DataFrame, actuals: pd.DataFrame | None, points: list[str], decision_time: dt.time
) -> pd.DataFrame:
    """Driver forecasts for D as known at its decision time; net load, its ramp, its change since the forecast for
    D-1, and how wrong the forecasts for D-1 (published hours) and D-2 have been so far."""
    system = [c for c in schemas.SYSTEM_FORECASTS if c in asof]
    asof = asof.sort_values("timestamp_utc", ignore_index=True)
    if (net := _net_load(asof, "forecast_mw")) is not None:
        asof["net_load_forecast_mw"] = net
        system.append("net_load_forecast_mw")
        consecutive = asof["timestamp_utc"].diff() == HOUR
        asof["net_load_ramp_mw"] = asof["net_load_forecast_mw"].diff().where(consecutive)
        by_slot = asof.groupby(["delivery_date", "hour_ending"], as_index=False)[["net_load_forecast_mw"]].mean()
        out = out.merge(
            _shift_days(by_slot, 1).rename(columns={"net_load_forecast_mw": "net_load_previous_mw"}),
            on=["delivery_date", "hour_ending"],
            how="left",
        )
        system.append("net_load_ramp_mw")
    out = out.merge(asof[["timestamp_utc", *system]], on="timestamp_utc", how="left")
    if "net_load_previous_mw" in out:
        out["net_load_forecast_dod_mw"] = out["net_load_forecast_mw"] - out.pop("net_load_previous_mw")
    regional = _regional_features(asof, points)
    if regional is not None:
        out = out.merge(regional, on=["timestamp_utc", "settlement_point"], how="left")
    if actuals is not None:
        out = out.merge(_forecast_errors(asof, actuals, decision_time), on="delivery_date", how="left")
    return out


def _forecast_errors(asof: pd.DataFrame, actuals: pd.DataFrame, decision_time: dt.time) -> pd.DataFrame:
    """Actual minus the day-ahead forecast (as known at that day's decision time), MW, mean over D-1's published
    hours (`_1d`) and over all of D-2 (`_2d`)."""
    joined = asof.merge(actuals, on=["timestamp_utc", "delivery_date", "hour_ending", "repeated_hour"])
    errors = {}
    for kind in ("load", "wind", "solar", "net_load"):
        actual = joined.get(f"{kind}_mw") if kind != "net_load" else _net_load(joined, "mw")
        forecast = joined.get(f"{kind}_forecast_mw")
        if actual is not None and forecast is not None:
            errors[kind] = actual - forecast
    if not errors:
        return pd.DataFrame(columns=["delivery_date"], dtype="datetime64[ns]")
    frame = pd.DataFrame(errors).assign(delivery_date=joined["delivery_date"])
    published = actual_published(joined["timestamp_utc"], _decision_for_next_day(joined, decision_time))
    recent = frame[published].groupby("delivery_date").mean().add_suffix("_forecast_error_1d")
    whole = frame.groupby("delivery_date").mean().add_suffix("_forecast_error_2d")
    return (
        _shift_days(recent.reset_index(), 1)
        .merge(_shift_days(whole.reset_index(), SETTLED_LAG_DAYS), on="delivery_date", how="outer")
        .sort_values("delivery_date")
    )


def _actual_features(out: pd.DataFrame, actuals: pd.DataFrame, decision_time: dt.time) -> pd.DataFrame:
    """Same-hour actuals of D-2 (settled) and of D-1's published hours (NaN for hours not public yet)."""
    columns = [c for c in schemas.DRIVER_ACTUALS if c in actuals]
    slots = actuals.groupby(["delivery_date", "hour_ending"], as_index=False)[columns].mean()
    published = actuals[actual_published(actuals["timestamp_utc"], _decision_for_next_day(actuals, decision_time))]
    recent = published.groupby(["delivery_date", "hour_ending"], as_index=False)[columns].mean()
    for frame, days in ((slots, SETTLED_LAG_DAYS), (recent, 1)):
        lagged = _shift_days(frame, days).rename(columns={c: f"{c}_lag_{days}d" for c in columns})
        out = out.merge(lagged, on=["delivery_date", "hour_ending"], how="left")
    return out


# --- the table ---------------------------------------------------------------------------------------------------


def build_features(
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    system: pd.DataFrame | None,
    points: list[str] | tuple[str, ...],
    days: list[pd.Timestamp] | None = None,
    *,
    forecasts: pd.DataFrame | None = None,
    decision_time: dt.time = DEFAULT_DECISION_TIME,
) -> pd.DataFrame:
    """The hourly feature table for `days` (default: every day the price or system tables cover) and `points`.

    `dart` is NaN for hours whose DAM or RTM price is not in the inputs (e.g. the day being forecast). Features
    are NaN where their data is absent (a booster takes that); `gap_report` says which days lack key inputs.
    `system` holds actual drivers, `forecasts` the driver_forecasts postings (None or empty: lagged actuals only).
    """
    points = list(points)
    check_decision_time(decision_time)
    if days is None:
        present = [f["delivery_date"] for f in (dam, rtm, system) if f is not None and len(f)]
        if not present:
            raise ValueError("hourly_features: no market data to build features from")
        days = sorted(pd.concat(present).drop_duplicates())
    days = sorted({pd.Timestamp(d).normalize() for d in days})
    grid = _grid(days, points)

    dam = dam[dam["settlement_point"].isin(points)]
    rtm = rtm[rtm["settlement_point"].isin(points)]
    keys = ["timestamp_utc", "settlement_point"]
    out = grid.merge(dam[[*keys, "dam_price"]], on=keys, how="left").merge(
        rtm[[*keys, "rtm_price"]], on=keys, how="left"
    )
    out[TARGET] = out["dam_price"] - out["rtm_price"]

    dam_slots = _by_slot(dam, "dam_price")
    rtm_slots = _by_slot(rtm, "rtm_price")
    both = rtm.merge(dam, on=[*schemas.PRICE_KEY_COLUMNS])
    dart_slots = _by_slot(both.assign(dart=both["dam_price"] - both["rtm_price"]), TARGET)

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
        _daily_matrix(dart_slots, TARGET, calendar, points),
        _daily_matrix(rtm_slots, "rtm_price", calendar, points),
        _daily_matrix(dam_slots, "dam_price", calendar, points),
    )
    out = out.merge(hourly, on=SLOT, how="left").merge(daily, on=["settlement_point", "delivery_date"], how="left")

    clock = range_hours(calendar[0], calendar[-1])
    published = clock[rtm_published(clock["timestamp_utc"], _decision_for_next_day(clock, decision_time))]
    published = published[["delivery_date", "hour_ending"]].drop_duplicates()
    for slots, value in ((rtm_slots, "rtm_price"), (dart_slots, TARGET)):
        same_hour, morning = _morning_features(slots, value, published)
        out = out.merge(same_hour, on=SLOT, how="left").merge(
            morning, on=["settlement_point", "delivery_date"], how="left"
        )

    # What the DAM priced for D-1's hour against what real time settled at: a spread the trees cannot form alone.
    out["dam_1d_minus_rtm_2d"] = out["dam_lag_1d"] - out["rtm_lag_2d"]
    out["dam_1d_minus_rtm_last_1d"] = out["dam_lag_1d"] - out["rtm_last_1d"]

    holidays = ercot_holidays(days[0].date(), days[-1].date())
    # No month: with a year or two of history the month the model serves is one it saw once or never; on the real
    # validation months dropping it lifted HB_WEST's skill by ~0.4 points and left the hubs' unchanged (issue 12).
    out["day_of_week"] = out["delivery_date"].dt.dayofweek.astype("int64")
    out["is_holiday"] = out["delivery_date"].dt.date.isin(holidays).astype("int64")

    actuals = None
    if system is not None and any(c in system for c in schemas.DRIVER_ACTUALS):
        actuals = system[[*schemas.KEY_COLUMNS, *(c for c in schemas.DRIVER_ACTUALS if c in system)]]
        out = _actual_features(out, actuals, decision_time)
    asof = known_forecasts(forecasts, decision_time)
    if asof is not None:
        out = _forecast_features(out, asof, actuals, points, decision_time)
    return out.sort_values(["timestamp_utc", "settlement_point"], ignore_index=True)


# --- gaps ----------------------------------------------------------------------------------------------------------

GAP_COLUMNS = ["delivery_date", "settlement_point", "table", "day", "present", "expected", "need"]


def gap_report(
    dam: pd.DataFrame,
    rtm: pd.DataFrame,
    forecasts: pd.DataFrame | None,
    points: list[str] | tuple[str, ...],
    days: list[pd.Timestamp],
    decision_time: dt.time = DEFAULT_DECISION_TIME,
) -> pd.DataFrame:
    """The key inputs each (delivery day D, point) lacks, one row per incomplete input: D-1's DAM, D-2's settled
    RTM, D-1's RTM hours published before the decision time, and (when the source posts forecasts at all) a
    forecast posted by the decision time for every hour of D. `present`/`expected` count hours."""
    check_decision_time(decision_time)
    days = sorted({pd.Timestamp(d).normalize() for d in days})
    if not days:
        return pd.DataFrame(columns=GAP_COLUMNS)
    clock = range_hours(days[0] - pd.Timedelta(days=SETTLED_LAG_DAYS), days[-1])
    clock["published"] = rtm_published(clock["timestamp_utc"], _decision_for_next_day(clock, decision_time))
    hours = clock.groupby("delivery_date").size()
    published_hours = clock.groupby("delivery_date")["published"].sum()
    when = f"{decision_time:%H:%M} Central"

    def counts(frame: pd.DataFrame) -> pd.Series:
        return (
            frame.drop_duplicates(["timestamp_utc", "settlement_point"])
            .groupby(["settlement_point", "delivery_date"])
            .size()
        )

    rtm_morning = rtm[rtm_published(rtm["timestamp_utc"], _decision_for_next_day(rtm, decision_time))]
    needs = [
        ("dam_prices", 1, counts(dam), hours, "D-1's DAM (cleared on D-2)"),
        ("rtm_prices", 2, counts(rtm), hours, "D-2's settled RTM"),
        ("rtm_prices", 1, counts(rtm_morning), published_hours, f"D-1's RTM hours published before {when}"),
    ]
    if forecasts is not None and len(forecasts):
        asof = known_forecasts(forecasts, decision_time)
        per_day = asof.groupby("delivery_date")["timestamp_utc"].nunique() if asof is not None else pd.Series()
        forecast_counts = pd.concat(dict.fromkeys(points, per_day), names=["settlement_point", "delivery_date"])
        needs.append(("driver_forecasts", 0, forecast_counts, hours, f"D's driver forecasts posted by {when}"))

    rows = []
    for day in days:
        for table, back, present, expected, need in needs:
            needed = day - pd.Timedelta(days=back)
            for point in points:
                have = int(present.get((point, needed), 0))
                if have < int(expected[needed]):
                    rows.append((day, point, table, needed, have, int(expected[needed]), need))
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def describe_gap(gap: pd.Series, points: list[str] | None = None) -> str:
    """One line naming the missing day and table, what it is needed for, and for which points."""
    return (
        f"{gap['table']} for {gap['day'].date()} is missing ({gap['present']} of {gap['expected']} hours, "
        f"{', '.join(points or [gap['settlement_point']])}): {gap['need']} is needed to forecast "
        f"{gap['delivery_date'].date()}"
    )


def training_rows(table: pd.DataFrame, gaps: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The rows a model may train on, and what was left out and why.

    Rows without a target (no DAM or RTM for the hour) are dropped. Rows of a (day, point) that lacks a key input
    (see `gap_report`) are dropped too: the morning run refuses to forecast such a day, so training on it would
    teach the model a situation it is never served (e.g. lags made NaN by a data gap).
    """
    no_target = table[TARGET].isna()
    missing = table.set_index(["delivery_date", "settlement_point"]).index.isin(
        gaps.set_index(["delivery_date", "settlement_point"]).index
    )
    keep = ~no_target & ~missing
    day_of = table["delivery_date"].dt.strftime("%Y-%m-%d")
    without_target = sorted(set(day_of[no_target]) - set(day_of[~no_target]))
    lacking = {
        f"{day:%Y-%m-%d}": sorted({f"{g.table} {g.day:%Y-%m-%d}" for g in rows.itertuples()})
        for day, rows in gaps.groupby("delivery_date")
    }
    kept_days = table.loc[keep, "delivery_date"]
    summary = {
        "rows": len(table),
        "rows_kept": int(keep.sum()),
        "days_kept": int(kept_days.nunique()),
        "first_day": str(kept_days.min().date()) if keep.any() else None,
        "last_day": str(kept_days.max().date()) if keep.any() else None,
        "rows_without_target": int(no_target.sum()),
        "rows_missing_inputs": int((~no_target & missing).sum()),
        "days_without_target": without_target,
        "days_missing_inputs": lacking,
    }
    if not keep.any():
        raise ValueError(
            f"hourly_features: no trainable rows among {len(table)}: {summary['rows_without_target']} have no target "
            f"and the rest lack key inputs, e.g. {describe_gap(gaps.iloc[0]) if len(gaps) else 'none'}"
        )
    return table[keep].reset_index(drop=True), summary


def left_out_days(table: pd.DataFrame, gaps: pd.DataFrame) -> pd.DataFrame:
    """Why each delivery day's rows that `training_rows` drops were dropped: one row per run of consecutive days
    with the same reason (`days`, `rows` left out, `why`), for the UI.

    A day whose hours have no target says which price is absent; a day that lacks a key input names the input, its
    day, the hours it has and what it is needed for, and the points when not every point lacks it.
    """
    points = sorted(table["settlement_point"].unique())
    no_target = table[TARGET].isna()
    missing = table.set_index(["delivery_date", "settlement_point"]).index.isin(
        gaps.set_index(["delivery_date", "settlement_point"]).index
    )
    reasons = []
    for day, rows in table.groupby("delivery_date"):
        target = no_target[rows.index]
        dropped = int((target | missing[rows.index]).sum())
        if not dropped:
            continue
        if target.all():
            absent = [name.removesuffix("_price").upper() for name in SAME_HOUR_PRICES if rows[name].isna().all()]
            why = (
                f"no target: no {' and no '.join(absent)} prices"
                if absent
                else "no target: no hour has both a DAM and an RTM price"
            )
        else:
            parts = []
            if target.any():
                parts.append(f"{int(target.sum())} of {len(rows)} rows without a target (DAM or RTM price absent)")
            for (name, _, need), lacking in gaps[gaps["delivery_date"] == day].groupby(
                ["table", "day", "need"], sort=False
            ):
                who = sorted(lacking["settlement_point"])
                only = "" if who == points else f" ({', '.join(who)} only)"
                first = lacking.iloc[0]
                day_needed = first["day"].date()
                parts.append(f"{need}: {name} {day_needed} has {first['present']} of {first['expected']} h{only}")
            why = "; ".join(parts)
        reasons.append((day, dropped, why))
    frame = pd.DataFrame(reasons, columns=["delivery_date", "rows", "why"])
    # Consecutive days with the same reason share a row.
    run = ((frame["why"] != frame["why"].shift()) | (frame["delivery_date"].diff() != pd.Timedelta(days=1))).cumsum()
    grouped = frame.groupby(run).agg(
        days=("delivery_date", lambda d: day_ranges(d)[0]), rows=("rows", "sum"), why=("why", "first")
    )
    return grouped.reset_index(drop=True)


def hourly_features(
    tables: Mapping[str, pd.DataFrame], points: list[str], decision_time: dt.time = DEFAULT_DECISION_TIME
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """The `hourly_features` asset's table from the four market tables: the training rows, what `training_rows`
    left out, and the left-out days with their reasons. Every day from the first to the last priced day is built,
    so a day without rows is listed among the left-out days instead of silently absent."""
    dam, rtm, forecasts = tables["dam_prices"], tables["rtm_prices"], tables["driver_forecasts"]
    priced = pd.concat([dam["delivery_date"], rtm["delivery_date"]])
    days = list(pd.date_range(priced.min(), priced.max(), freq="D")) if len(priced) else None
    table = build_features(
        dam, rtm, tables["system_conditions"], points, days=days, forecasts=forecasts, decision_time=decision_time
    )
    gaps = gap_report(dam, rtm, forecasts, points, sorted(table["delivery_date"].unique()), decision_time)
    days_left_out = left_out_days(table, gaps)
    rows, left_out = training_rows(table, gaps)
    return rows, left_out, days_left_out

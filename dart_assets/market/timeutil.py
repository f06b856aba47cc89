"""ERCOT delivery-day clock: (delivery date, hour ending, repeated-hour flag) <-> UTC hour beginning.

ERCOT reports hours as "Hour Ending" 01..24 in Central Prevailing Time. On the spring-forward day HE03 does
not exist (23 hours); on the fall-back day HE02 occurs twice and the second one carries Repeated Hour Flag = Y
(25 hours). Everything downstream keys on the UTC hour beginning, which is unambiguous.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

MARKET_TZ = "America/Chicago"


class DeliveryTimeError(ValueError):
    """A (date, hour ending, repeated flag) that does not exist on ERCOT's clock."""


def range_hours(first: dt.date | str | pd.Timestamp, last: dt.date | str | pd.Timestamp) -> pd.DataFrame:
    """The hours of delivery days first..last: timestamp_utc (hour beginning), delivery_date, hour_ending,
    repeated_hour. 23 rows on a spring-forward day, 25 on a fall-back day, else 24."""
    start = pd.Timestamp(first).normalize().tz_localize(MARKET_TZ)
    end = (pd.Timestamp(last).normalize() + pd.Timedelta(days=1)).tz_localize(MARKET_TZ)
    local = pd.date_range(start, end, freq="h", inclusive="left")
    frame = pd.DataFrame(
        {
            "timestamp_utc": local.tz_convert("UTC"),
            "delivery_date": local.tz_localize(None).normalize(),
            "hour_ending": np.asarray(local.hour + 1, dtype="int64"),
        }
    )
    frame["repeated_hour"] = frame.duplicated(["delivery_date", "hour_ending"]).to_numpy()
    return frame


def day_hours(day: dt.date | str | pd.Timestamp) -> pd.DataFrame:
    """The hours of one delivery day (see range_hours)."""
    return range_hours(day, day)


def hours_in_day(day: dt.date | str | pd.Timestamp) -> int:
    """23, 24 or 25: the number of delivery hours ERCOT's clock gives this day."""
    return len(day_hours(day))


def to_utc(delivery_date: pd.Series, hour_ending: pd.Series, repeated_hour: pd.Series) -> pd.Series:
    """UTC hour beginning for vectors of ERCOT delivery date, hour ending (1..24) and repeated flag.

    Raises DeliveryTimeError naming the first offending row (by the series' index) when an hour does not exist
    (HE03 on the spring-forward day, an hour ending outside 1..24) or a repeated flag is set on an hour that is
    not repeated.
    """
    dates = pd.to_datetime(delivery_date).dt.normalize()
    he = pd.Series(hour_ending, index=dates.index).astype("int64")
    rep = pd.Series(repeated_hour, index=dates.index).astype(bool)
    bad = ~he.between(1, 24)
    if bad.any():
        i: Any = bad.idxmax()
        raise DeliveryTimeError(f"row {i}: hour ending {he[i]} is outside 01..24")
    local_naive = dates + pd.to_timedelta(he - 1, unit="h")
    try:
        local = local_naive.dt.tz_localize(MARKET_TZ, ambiguous=~rep.to_numpy(), nonexistent="raise")
    except Exception as exc:  # pytz/zoneinfo raise different types for nonexistent times
        missing = _first_nonexistent(local_naive)
        where = f"row {missing}: {dates[missing].date()} hour ending {he[missing]:02d}" if missing is not None else ""
        raise DeliveryTimeError(f"{where} does not exist in Central time (spring-forward day): {exc}") from exc
    # A repeated flag on a non-ambiguous hour localizes silently; catch it by checking the hour really repeats.
    flagged = rep[rep]
    if len(flagged):
        first_occurrence = local_naive[flagged.index].dt.tz_localize(MARKET_TZ, ambiguous=True)
        not_repeated = first_occurrence.dt.tz_convert("UTC") == local[flagged.index].dt.tz_convert("UTC")
        if not_repeated.any():
            i = not_repeated.idxmax()
            raise DeliveryTimeError(
                f"row {i}: repeated-hour flag on {dates[i].date()} hour ending {he[i]:02d}, which is not repeated"
            )
    return local.dt.tz_convert("UTC")


def _first_nonexistent(local_naive: pd.Series):
    for i, ts in local_naive.items():
        try:
            pd.Timestamp(ts).tz_localize(MARKET_TZ, nonexistent="raise", ambiguous=True)
        except Exception:
            return i
    return None


def from_utc(timestamp_utc: pd.Series) -> pd.DataFrame:
    """delivery_date, hour_ending and repeated_hour for UTC hour-beginning timestamps."""
    ts = pd.to_datetime(timestamp_utc, utc=True)
    local = ts.dt.tz_convert(MARKET_TZ)
    frame = pd.DataFrame(
        {
            "delivery_date": local.dt.tz_localize(None).dt.normalize(),
            "hour_ending": (local.dt.hour + 1).astype("int64"),
        },
        index=ts.index,
    )
    # The second occurrence of a wall-clock hour is the one that differs from its first (DST) reading.
    first = local.dt.tz_localize(None).dt.tz_localize(MARKET_TZ, ambiguous=True, nonexistent="shift_forward")
    frame["repeated_hour"] = (first.dt.tz_convert("UTC") != ts).to_numpy()
    return frame


def decision_time_utc(delivery_date: dt.date | str | pd.Timestamp, decision_hour_local: int = 9) -> pd.Timestamp:
    """The decision time for delivery day D: D-1 at decision_hour_local (before the DAM closes at 10:00)."""
    day_before = pd.Timestamp(delivery_date).normalize() - pd.Timedelta(days=1)
    return (day_before + pd.Timedelta(hours=decision_hour_local)).tz_localize(MARKET_TZ).tz_convert("UTC")


_HOLIDAY_NAMES = ("New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving", "Christmas Day")


def ercot_holidays(first: dt.date, last: dt.date) -> set[dt.date]:
    """ERCOT's load-profile holidays (the NERC set: New Year, Memorial Day, July 4, Labor Day, Thanksgiving,
    Christmas, with their observed days) in the years first..last."""
    import holidays

    us = holidays.US(years=list(range(first.year, last.year + 1)))
    return {day for day, name in us.items() if name.startswith(_HOLIDAY_NAMES)}

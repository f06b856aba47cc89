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


def day_ranges(days) -> list[str]:
    """Delivery days as runs of consecutive days, for messages: ["2024-03-11..2024-03-16", "2024-04-02"]."""
    ordered = sorted({pd.Timestamp(d).normalize() for d in days})
    runs: list[list[pd.Timestamp]] = []
    for day in ordered:
        if runs and day - runs[-1][-1] == pd.Timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return [f"{r[0].date()}..{r[-1].date()}" if len(r) > 1 else f"{r[0].date()}" for r in runs]


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


DEFAULT_DECISION_TIME = dt.time(9, 0)
DAM_CLOSE = dt.time(10, 0)  # the day-ahead market closes for bids and offers at 10:00 Central on D-1


def check_decision_time(decision_time: dt.time) -> dt.time:
    """The decision time is a Central clock time on D-1, strictly before the DAM closes: else a bid is too late."""
    if not isinstance(decision_time, dt.time) or decision_time.tzinfo is not None:
        raise ValueError(f"decision time {decision_time!r} must be a naive datetime.time (Central clock time on D-1)")
    if decision_time >= DAM_CLOSE:
        raise ValueError(
            f"decision time {decision_time:%H:%M} is not before the day-ahead market closes at {DAM_CLOSE:%H:%M} "
            "Central on D-1; choose an earlier time, e.g. 09:00"
        )
    return decision_time


def decision_times_utc(delivery_date: pd.Series, decision_time: dt.time = DEFAULT_DECISION_TIME) -> pd.Series:
    """Vectorised `decision_time_utc`: for each delivery date D, D-1 at `decision_time` Central, in UTC.

    No decision time before 10:00 falls in a DST transition (02:00), so every one exists and is unambiguous.
    """
    check_decision_time(decision_time)
    offset = pd.Timedelta(hours=decision_time.hour, minutes=decision_time.minute, seconds=decision_time.second)
    # Converted once per distinct day, not per row: time-zone localization is the slow part on hourly tables.
    codes, days = pd.factorize(pd.to_datetime(delivery_date).dt.normalize())
    utc = (pd.DatetimeIndex(days) - pd.Timedelta(days=1) + offset).tz_localize(MARKET_TZ).tz_convert("UTC")
    values = pd.DatetimeIndex(utc.take(codes)).where(codes >= 0)  # NaT stays NaT
    return pd.Series(values, index=delivery_date.index, name=delivery_date.name)


def decision_time_utc(
    delivery_date: dt.date | str | pd.Timestamp, decision_time: dt.time = DEFAULT_DECISION_TIME
) -> pd.Timestamp:
    """The decision time for delivery day D: D-1 at `decision_time` Central (before the DAM closes at 10:00), UTC."""
    return decision_times_utc(pd.Series([pd.Timestamp(delivery_date)]), decision_time).iloc[0]


_HOLIDAY_NAMES = ("New Year's Day", "Memorial Day", "Independence Day", "Labor Day", "Thanksgiving", "Christmas Day")


def ercot_holidays(first: dt.date, last: dt.date) -> set[dt.date]:
    """ERCOT's load-profile holidays (the NERC set: New Year, Memorial Day, July 4, Labor Day, Thanksgiving,
    Christmas, with their observed days) in the years first..last."""
    import holidays

    us = holidays.US(years=list(range(first.year, last.year + 1)))
    return {day for day, name in us.items() if name.startswith(_HOLIDAY_NAMES)}

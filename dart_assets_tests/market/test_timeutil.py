"""ERCOT's delivery-day clock: hour ending in Central Prevailing Time <-> UTC hour beginning."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dart_assets.market import timeutil
from dart_assets.market.timeutil import DeliveryTimeError


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def convert(rows: list[tuple[str, int, bool]], index=None) -> pd.Series:
    frame = pd.DataFrame(rows, columns=["date", "he", "rep"], index=index)
    return timeutil.to_utc(frame["date"], frame["he"], frame["rep"])


def test_spring_forward_day_has_23_hours_and_no_he03():
    hours = timeutil.day_hours("2024-03-10")
    assert len(hours) == 23 == timeutil.hours_in_day(dt.date(2024, 3, 10))
    assert 3 not in set(hours.hour_ending)
    assert list(hours.hour_ending) == [1, 2, *range(4, 25)]
    assert not hours.repeated_hour.any()
    by_he = hours.set_index("hour_ending").timestamp_utc
    # 01:00 CST = 07:00 UTC; the next local hour is 03:00 CDT = 08:00 UTC: no gap in UTC.
    assert by_he[2] == utc("2024-03-10 07:00") and by_he[4] == utc("2024-03-10 08:00")
    assert hours.timestamp_utc.diff().dropna().eq(pd.Timedelta(hours=1)).all()


def test_fall_back_day_has_25_hours_with_he02_twice_at_distinct_utc_hours():
    hours = timeutil.day_hours("2024-11-03")
    assert len(hours) == 25 == timeutil.hours_in_day("2024-11-03")
    he02 = hours[hours.hour_ending == 2]
    assert list(he02.repeated_hour) == [False, True]
    assert list(he02.timestamp_utc) == [utc("2024-11-03 06:00"), utc("2024-11-03 07:00")]
    assert hours.repeated_hour.sum() == 1
    assert hours.timestamp_utc.is_unique
    assert hours.set_index("hour_ending").timestamp_utc[3] == utc("2024-11-03 08:00")


@pytest.mark.parametrize(
    ("day", "he24_utc"),
    [("2024-01-02", "2024-01-03 05:00"), ("2024-07-01", "2024-07-02 04:00"), ("2024-03-10", "2024-03-11 04:00")],
)
def test_he24_is_the_hour_beginning_23_00_local(day, he24_utc):
    assert convert([(day, 24, False)]).iloc[0] == utc(he24_utc)
    last = timeutil.day_hours(day).iloc[-1]
    assert (last.hour_ending, last.timestamp_utc) == (24, utc(he24_utc))
    assert last.timestamp_utc.tz_convert("America/Chicago").hour == 23


def test_round_trip_over_a_whole_year():
    hours = pd.concat([timeutil.day_hours(d) for d in pd.date_range("2024-01-01", "2024-12-31")], ignore_index=True)
    assert len(hours) == 8784  # leap year: 366 x 24, the DST hour lost in March comes back in November
    expected = pd.date_range(utc("2024-01-01 06:00"), utc("2025-01-01 05:00"), freq="h")
    assert (hours.timestamp_utc.to_numpy() == expected.to_numpy()).all()

    back = timeutil.to_utc(hours.delivery_date, hours.hour_ending, hours.repeated_hour)
    pd.testing.assert_series_equal(back, hours.timestamp_utc, check_names=False)

    clock = timeutil.from_utc(pd.Series(expected))
    pd.testing.assert_frame_equal(clock, hours[["delivery_date", "hour_ending", "repeated_hour"]], check_dtype=False)
    assert clock.repeated_hour.sum() == 1


def test_he03_on_spring_forward_day_is_an_error_naming_the_row():
    with pytest.raises(DeliveryTimeError, match=r"row 12: 2024-03-10 hour ending 03 does not exist"):
        convert([("2024-03-10", 2, False), ("2024-03-10", 4, False), ("2024-03-10", 3, False)], index=[10, 11, 12])


@pytest.mark.parametrize(("day", "he"), [("2024-01-02", 5), ("2024-11-03", 3), ("2024-11-03", 1)])
def test_repeated_flag_on_an_hour_that_does_not_repeat_is_an_error(day, he):
    with pytest.raises(DeliveryTimeError, match=rf"row 1: repeated-hour flag on {day} hour ending {he:02d}"):
        convert([(day, 2, False), (day, he, True)])


@pytest.mark.parametrize("he", [0, 25])
def test_hour_ending_outside_1_24_is_an_error(he):
    with pytest.raises(DeliveryTimeError, match=rf"row 0: hour ending {he} is outside 01..24"):
        convert([("2024-01-02", he, False)])


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [
        ("2024-07-15", "2024-07-14 14:00"),  # CDT: 09:00 = 14:00 UTC
        ("2024-01-15", "2024-01-14 15:00"),  # CST: 09:00 = 15:00 UTC
        ("2024-03-11", "2024-03-10 14:00"),  # D-1 is the spring-forward day: already CDT at 09:00
        ("2024-03-10", "2024-03-09 15:00"),
        ("2024-11-04", "2024-11-03 15:00"),  # D-1 is the fall-back day: already CST at 09:00
    ],
)
def test_decision_time_is_d_minus_1_09_00_central(delivery, expected):
    assert timeutil.decision_time_utc(delivery) == utc(expected)
    assert timeutil.decision_time_utc(pd.Timestamp(delivery).date()) == utc(expected)


@pytest.mark.parametrize(
    ("delivery", "expected"),
    [("2024-07-15", "2024-07-14 14:55"), ("2024-01-15", "2024-01-14 15:55"), ("2024-11-04", "2024-11-03 15:55")],
)
def test_decision_time_is_a_parameter(delivery, expected):
    assert timeutil.decision_time_utc(delivery, dt.time(9, 55)) == utc(expected)
    vectorised = timeutil.decision_times_utc(pd.Series(pd.to_datetime([delivery, delivery])), dt.time(9, 55))
    assert vectorised.tolist() == [utc(expected)] * 2


@pytest.mark.parametrize(
    ("decision_time", "message"),
    [
        (dt.time(10, 0), "decision time 10:00 is not before the day-ahead market closes at 10:00 Central on D-1"),
        (dt.time(14, 30), "decision time 14:30 is not before the day-ahead market closes"),
        ("09:00", "must be a naive datetime.time"),
    ],
)
def test_a_decision_time_at_or_after_the_dam_close_is_refused(decision_time, message):
    with pytest.raises(ValueError, match=message):
        timeutil.decision_time_utc("2024-07-15", decision_time)


def test_ercot_holidays_are_the_nerc_set_with_observed_days():
    days = timeutil.ercot_holidays(dt.date(2022, 1, 1), dt.date(2024, 12, 31))
    for holiday in [
        "2024-01-01",
        "2024-05-27",
        "2024-07-04",
        "2024-09-02",
        "2024-11-28",
        "2024-12-25",
        "2022-12-26",
    ]:  # Christmas 2022 fell on a Sunday: observed Monday
        assert dt.date.fromisoformat(holiday) in days, holiday
    for not_holiday in ["2024-01-15", "2024-06-19", "2024-11-11", "2024-07-05"]:  # MLK, Juneteenth, Veterans
        assert dt.date.fromisoformat(not_holiday) not in days, not_holiday


def test_day_ranges_compress_consecutive_days():
    days = ["2024-03-13", "2024-03-11", "2024-03-12", "2024-03-20", "2024-02-29", "2024-03-01", "2024-03-12"]
    assert timeutil.day_ranges(pd.to_datetime(days)) == [
        "2024-02-29..2024-03-01",
        "2024-03-11..2024-03-13",
        "2024-03-20",
    ]
    assert timeutil.day_ranges([]) == []

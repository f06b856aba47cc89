"""Asset-check logic for market tables: each check passes on clean data and fails on its own problem; gaps are named
in one message; a day in progress is judged against the hours published by the time the source was read."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dart_assets import features
from dart_assets.market import quality, schemas, synthetic

START, END = pd.Timestamp("2024-11-02"), pd.Timestamp("2024-11-04")  # 24 + 25 + 24 hours
POINTS = ["HB_NORTH", "HB_WEST"]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return synthetic.generate(START, END, POINTS)


def results(name: str, frame: pd.DataFrame, start=START, end=END, **kwargs) -> dict[str, quality.QualityResult]:
    out = {r.check: r for r in quality.evaluate(name, frame, start, end, **kwargs)}
    assert list(out) == list(quality.CHECKS[name])
    return out


def failed(checks: dict[str, quality.QualityResult]) -> set[str]:
    return {name for name, result in checks.items() if not result.passed}


@pytest.mark.parametrize("name", schemas.MARKET_TABLES)
def test_clean_data_passes_every_check(tables, name):
    checks = results(name, tables[name], points=POINTS, source="synthetic")
    assert not failed(checks), {k: r.description for k, r in checks.items()}
    gaps = checks["no_missing_days"]
    assert gaps.severe and gaps.metadata["days_without_rows"] == 0 and gaps.metadata["partial_days"] == 0
    who = " for HB_NORTH, HB_WEST" if name in quality.PRICE_COLUMNS else ""
    assert gaps.description == f"{name} from synthetic: every due hour of 2024-11-02..2024-11-04 is there{who}"
    if name != "driver_forecasts":
        assert checks["missing_hours"].metadata == {
            "missing_share": 0.0,
            "expected_rows": 73 * (1 if name == "system_conditions" else 2),
        }
        assert checks["no_duplicate_hours"].severe and not checks["hours_per_day"].severe


def test_checks_per_table():
    common = ["no_duplicate_hours", "hours_per_day", "no_missing_days", "missing_hours"]
    assert {name: list(checks) for name, checks in quality.CHECKS.items()} == {
        "dam_prices": [*common, "prices_near_cap"],
        "rtm_prices": [*common, "prices_near_cap"],
        "system_conditions": common,
        "driver_forecasts": ["no_missing_days"],
    }


@pytest.mark.parametrize("name", ["rtm_prices", "system_conditions"])
def test_duplicate_hours_fail_as_severe(tables, name):
    frame = tables[name]
    checks = results(name, pd.concat([frame, frame.iloc[[10, 11]]], ignore_index=True))
    assert failed(checks) == {"no_duplicate_hours"} and checks["no_duplicate_hours"].severe
    assert checks["no_duplicate_hours"].metadata == {"duplicate_rows": 2}
    assert checks["no_duplicate_hours"].description.startswith("2 duplicate row(s)")


def test_fall_back_day_without_its_repeated_hour_is_a_partial_day(tables):
    frame = tables["dam_prices"]
    frame = frame[~(frame.repeated_hour & (frame.settlement_point == "HB_WEST"))]
    checks = results("dam_prices", frame, points=POINTS, source="synthetic")
    assert failed(checks) == {"no_missing_days"}  # 1 of 146 hours is under missing_hours' 2% threshold
    assert (
        checks["no_missing_days"].description == "dam_prices from synthetic: HB_WEST: partial: 2024-11-03 (24 of 25 h)"
    )
    assert checks["no_missing_days"].metadata["partial_days"] == 1


def test_a_day_with_more_hours_than_the_clock_fails_hours_per_day(tables):
    """The fall-back day's 25 hours filed under the following (24-hour) day."""
    system = tables["system_conditions"]
    extra = (
        system[system.delivery_date == "2024-11-03"]
        .iloc[[0]]
        .assign(delivery_date=pd.Timestamp("2024-11-04"), timestamp_utc=pd.Timestamp("2024-11-06", tz="UTC"))
    )
    checks = results("system_conditions", pd.concat([system, extra], ignore_index=True))
    assert failed(checks) == {"hours_per_day"}
    assert checks["hours_per_day"].description == (
        "1 day(s) with more hours than the clock, e.g. 2024-11-04 25h (the clock has 24)"
    )


@pytest.mark.parametrize(("dropped", "passed"), [(2, True), (3, False)])
def test_missing_share_threshold(tables, dropped, passed):
    frame = tables["rtm_prices"].drop(index=range(20, 20 + dropped))
    checks = results("rtm_prices", frame)
    assert checks["missing_hours"].passed is passed
    assert checks["missing_hours"].metadata["missing_share"] == pytest.approx(dropped / 146)
    assert checks["missing_hours"].metadata["expected_rows"] == 146
    assert not checks["no_missing_days"].passed  # any missing hour is named


@pytest.mark.parametrize(("price", "passed"), [(4499.0, True), (4500.0, False)])
def test_prices_near_the_cap_warn(tables, price, passed):
    frame = tables["dam_prices"].copy()
    frame.loc[30, "dam_price"] = price
    check = results("dam_prices", frame)["prices_near_cap"]
    assert check.passed is passed and not check.severe
    assert check.metadata == {"hours_near_cap": 0 if passed else 1, "max_price": price}
    if not passed:
        assert "1 hour(s) at or above 90% of the cap, max 4500.00 $/MWh" in check.description


def test_near_cap_uses_the_pre_2022_cap():
    frame = synthetic.generate("2021-02-16", "2021-02-16", ["HB_NORTH"])["rtm_prices"]
    day = pd.Timestamp("2021-02-16")
    frame.loc[5, "rtm_price"] = 8000.0  # near 5000, but below 90% of 9000
    assert results("rtm_prices", frame, day, day)["prices_near_cap"].passed
    frame.loc[5, "rtm_price"] = 8100.0
    assert not results("rtm_prices", frame, day, day)["prices_near_cap"].passed


# --- gaps: one message naming the days --------------------------------------------------------------------------

GAP_START, GAP_END = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-25")


def march_gap(frame: pd.DataFrame) -> pd.DataFrame:
    """The shape of the real 2024 file's gap: 2024-03-10 keeps only HE01, 03-11..03-16 are absent, 03-17 lacks
    HE01-03."""
    day, he = frame.delivery_date, frame.hour_ending
    gone = (
        ((day == "2024-03-10") & (he > 1))
        | day.between("2024-03-11", "2024-03-16")
        | ((day == "2024-03-17") & (he <= 3))
    )
    return frame[~gone]


@pytest.fixture(scope="module")
def march() -> dict[str, pd.DataFrame]:
    return {name: march_gap(frame) for name, frame in synthetic.generate(GAP_START, GAP_END, POINTS).items()}


@pytest.mark.parametrize("name", schemas.MARKET_TABLES)
def test_a_gap_is_one_message_naming_exactly_the_days_the_points_and_the_source(march, name):
    checks = results(name, march[name], GAP_START, GAP_END, points=POINTS, source="table:/data/hubs.csv")
    gaps = checks["no_missing_days"]
    assert not gaps.passed and gaps.severe
    who, rows = ("HB_NORTH, HB_WEST", "rows") if name in quality.PRICE_COLUMNS else ("system-wide", "rows")
    if name == "driver_forecasts":
        rows = "postings"
    assert gaps.description == (
        f"{name} from table:/data/hubs.csv: {who}: no {rows} for 2024-03-11..2024-03-16 (6 days); "
        "partial: 2024-03-10 (1 of 23 h), 2024-03-17 (21 of 24 h)"
    )
    assert gaps.metadata == {
        "days_without_rows": 6,
        "partial_days": 2,
        "days_without_rows_list": ["2024-03-11..2024-03-16"],
        "judged_as_of": "settled (every hour due)",
    }
    # The other checks keep their own concerns: no duplicates, no day with extra hours, a missing share.
    assert failed(checks) <= {"no_missing_days", "missing_hours"}


def test_points_with_different_gaps_are_named_apart(march):
    rtm = march["rtm_prices"]
    rtm = rtm[
        ~((rtm.settlement_point == "HB_WEST") & rtm.delivery_date.isin(pd.to_datetime(["2024-03-20", "2024-03-22"])))
    ]
    points = ["HB_WEST", "HB_NORTH", "HB_HOUSTON"]  # HB_HOUSTON is configured but absent everywhere
    check = results("rtm_prices", rtm, GAP_START, GAP_END, points=points, source="s")["no_missing_days"]
    assert check.description == (
        "rtm_prices from s: HB_WEST: no rows for 2024-03-11..2024-03-16, 2024-03-20, 2024-03-22 (8 days); "
        "partial: 2024-03-10 (1 of 23 h), 2024-03-17 (21 of 24 h). "
        "HB_NORTH: no rows for 2024-03-11..2024-03-16 (6 days); "
        "partial: 2024-03-10 (1 of 23 h), 2024-03-17 (21 of 24 h). "
        "HB_HOUSTON: no rows for 2024-03-01..2024-03-25 (25 days)"
    )


def test_a_range_without_any_row_names_every_day(tables):
    empty = tables["rtm_prices"].iloc[:0]
    check = results("rtm_prices", empty, points=["HB_NORTH"], source="s")["no_missing_days"]
    assert check.description == "rtm_prices from s: HB_NORTH: no rows for 2024-11-02..2024-11-04 (3 days)"


@pytest.mark.parametrize("name", ["system_conditions", "driver_forecasts"])
def test_a_source_without_that_kind_of_data_has_nothing_to_check(name):
    checks = results(name, schemas.empty(name), source="ercot_api")
    assert not failed(checks)
    what = "actual drivers" if name == "system_conditions" else "forecast postings"
    assert checks["no_missing_days"].description == f"{name} from ercot_api: the source has no {what}; nothing to check"


# --- a day in progress ------------------------------------------------------------------------------------------

LIVE_START, TODAY, LIVE_END = pd.Timestamp("2025-03-08"), pd.Timestamp("2025-03-09"), pd.Timestamp("2025-03-10")
MORNING = pd.Timestamp("2025-03-09 09:05", tz="America/Chicago").tz_convert("UTC")  # the spring-forward day, CDT


@pytest.fixture(scope="module")
def morning() -> dict[str, pd.DataFrame]:
    """What a source holds at 09:05 on 2025-03-09: DAM through today (tomorrow's clears at 13:30), RTM and actuals
    for the hours published so far, postings up to now."""
    full = synthetic.generate(LIVE_START, LIVE_END, POINTS)
    return {
        "dam_prices": full["dam_prices"][full["dam_prices"].delivery_date <= TODAY],
        "rtm_prices": full["rtm_prices"][features.rtm_published(full["rtm_prices"].timestamp_utc, MORNING)],
        "system_conditions": full["system_conditions"][
            features.actual_published(full["system_conditions"].timestamp_utc, MORNING)
        ],
        "driver_forecasts": full["driver_forecasts"][full["driver_forecasts"].posted_utc <= MORNING],
    }


def live(name: str, frame: pd.DataFrame, as_of=MORNING) -> dict[str, quality.QualityResult]:
    return results(
        name, frame, LIVE_START, LIVE_END, points=POINTS, source="s", as_of=as_of, decision_time=dt.time(9, 0)
    )


def test_the_hours_due_follow_the_publication_rules():
    due = {
        name: quality.due_hours(name, LIVE_START, LIVE_END, MORNING, dt.time(9, 0))
        .groupby("delivery_date")["due"]
        .sum()
        for name in schemas.MARKET_TABLES
    }
    # 2025-03-09 has 23 hours; at 09:05 CDT RTM HE01-02 and HE04-08 have ended 15 min before, actuals an hour before.
    assert {n: d.tolist() for n, d in due.items()} == {
        "dam_prices": [24, 23, 0],  # 03-10's DAM posts on 03-09 at 13:30
        "rtm_prices": [24, 7, 0],
        "system_conditions": [24, 7, 0],
        "driver_forecasts": [24, 23, 24],  # 03-10's decision time (03-09 09:00) has passed
    }
    assert quality.due_hours("rtm_prices", LIVE_START, LIVE_END).due.all()  # no as_of: settled


@pytest.mark.parametrize("name", schemas.MARKET_TABLES)
def test_the_morning_run_is_green(morning, name):
    checks = live(name, morning[name])
    assert not failed(checks), {k: r.description for k, r in checks.items() if not r.passed}
    progress = {
        "dam_prices": "2025-03-10 not due yet",
        "rtm_prices": "2025-03-09 in progress (7 of 23 h due), 2025-03-10 not due yet",
        "system_conditions": "2025-03-09 in progress (7 of 23 h due), 2025-03-10 not due yet",
        "driver_forecasts": None,
    }[name]
    description = checks["no_missing_days"].description
    if progress:
        assert description.endswith(f"; judged as of 2025-03-09 09:05 CDT: {progress}")
    else:
        assert "judged" not in description


def test_a_published_hour_missing_from_the_day_in_progress_is_flagged(morning):
    rtm = morning["rtm_prices"]
    rtm = rtm[~((rtm.settlement_point == "HB_NORTH") & (rtm.delivery_date == TODAY) & (rtm.hour_ending == 8))]
    check = live("rtm_prices", rtm)["no_missing_days"]
    assert not check.passed
    assert check.description.startswith("rtm_prices from s: HB_NORTH: partial: 2025-03-09 (6 of 7 h); judged as of")


def test_a_settled_day_with_missing_hours_is_still_flagged_the_next_morning(morning):
    rtm = morning["rtm_prices"]
    rtm = rtm[~((rtm.delivery_date == LIVE_START) & (rtm.hour_ending >= 20))]  # yesterday lost its evening
    check = live("rtm_prices", rtm)["no_missing_days"]
    assert check.description.startswith(
        "rtm_prices from s: HB_NORTH, HB_WEST: partial: 2025-03-08 (19 of 24 h); judged as of 2025-03-09 09:05 CDT"
    )


def test_tomorrows_postings_are_due_only_from_its_decision_time(morning):
    forecasts = morning["driver_forecasts"]
    without_tomorrow = forecasts[forecasts.delivery_date != LIVE_END]
    assert not live("driver_forecasts", without_tomorrow)["no_missing_days"].passed
    early = MORNING - pd.Timedelta(hours=1)  # 08:05, before the 09:00 decision time for 03-10
    check = live("driver_forecasts", without_tomorrow, as_of=early)["no_missing_days"]
    assert check.passed and check.description.endswith("judged as of 2025-03-09 08:05 CDT: 2025-03-10 not due yet")

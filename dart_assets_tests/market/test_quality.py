"""Asset-check logic for market tables: each check passes on clean data and fails on its own problem."""

from __future__ import annotations

import pandas as pd
import pytest

from dart_assets.market import quality, synthetic

START, END = pd.Timestamp("2024-11-02"), pd.Timestamp("2024-11-04")  # 24 + 25 + 24 hours


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return synthetic.generate(START, END, ["HB_NORTH", "HB_WEST"])


def results(name: str, frame: pd.DataFrame, start=START, end=END) -> dict[str, quality.QualityResult]:
    out = {r.check: r for r in quality.evaluate(name, frame, start, end)}
    assert list(out) == list(quality.CHECKS[name])
    return out


@pytest.mark.parametrize("name", ["dam_prices", "rtm_prices", "system_conditions"])
def test_clean_data_passes_every_check(tables, name):
    checks = results(name, tables[name])
    assert all(r.passed for r in checks.values()), {k: r.description for k, r in checks.items()}
    assert checks["missing_hours"].metadata == {
        "missing_share": 0.0,
        "expected_rows": 73 * (1 if name == "system_conditions" else 2),
    }
    assert checks["no_duplicate_hours"].severe and not checks["hours_per_day"].severe


@pytest.mark.parametrize("name", ["rtm_prices", "system_conditions"])
def test_duplicate_hours_fail_as_severe(tables, name):
    frame = tables[name]
    checks = results(name, pd.concat([frame, frame.iloc[[10, 11]]], ignore_index=True))
    assert not checks["no_duplicate_hours"].passed and checks["no_duplicate_hours"].severe
    assert checks["no_duplicate_hours"].metadata == {"duplicate_rows": 2}
    assert checks["no_duplicate_hours"].description.startswith("2 duplicate row(s)")
    # A duplicate is not also an extra hour.
    assert checks["hours_per_day"].passed and checks["missing_hours"].passed


def test_fall_back_day_without_its_repeated_hour_has_the_wrong_count(tables):
    frame = tables["dam_prices"]
    frame = frame[~(frame.repeated_hour & (frame.settlement_point == "HB_WEST"))]
    checks = results("dam_prices", frame)
    assert not checks["hours_per_day"].passed
    assert checks["hours_per_day"].metadata == {"wrong_days": 1}
    assert "2024-11-03 HB_WEST 24h (expected 25)" in checks["hours_per_day"].description
    assert checks["missing_hours"].passed  # 1 of 146 hours is under the 2% threshold


def test_a_day_with_an_extra_hour_has_the_wrong_count(tables):
    """A 24-hour table for the fall-back day relabelled as the following day: 25 hours on a 24-hour day."""
    system = tables["system_conditions"]
    extra = (
        system[system.delivery_date == "2024-11-03"]
        .iloc[[0]]
        .assign(delivery_date=pd.Timestamp("2024-11-04"), timestamp_utc=pd.Timestamp("2024-11-06", tz="UTC"))
    )
    checks = results("system_conditions", pd.concat([system, extra], ignore_index=True))
    assert not checks["hours_per_day"].passed
    assert "2024-11-04  25h (expected 24)" in checks["hours_per_day"].description


@pytest.mark.parametrize(("dropped", "passed"), [(2, True), (3, False)])
def test_missing_share_threshold(tables, dropped, passed):
    frame = tables["rtm_prices"].drop(index=range(20, 20 + dropped))
    checks = results("rtm_prices", frame)
    assert checks["missing_hours"].passed is passed
    assert checks["missing_hours"].metadata["missing_share"] == pytest.approx(dropped / 146)
    assert checks["missing_hours"].metadata["expected_rows"] == 146


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
    frame.loc[5, "rtm_price"] = 8000.0  # near 5000, but below 90% of 9000
    assert results("rtm_prices", frame, pd.Timestamp("2021-02-16"), pd.Timestamp("2021-02-16"))[
        "prices_near_cap"
    ].passed
    frame.loc[5, "rtm_price"] = 8100.0
    assert not results("rtm_prices", frame, pd.Timestamp("2021-02-16"), pd.Timestamp("2021-02-16"))[
        "prices_near_cap"
    ].passed


def test_a_whole_missing_day_fails_hours_per_day():
    start, end = pd.Timestamp("2024-06-01"), pd.Timestamp("2024-07-31")
    frame = synthetic.generate("2024-06-01", "2024-07-31", ["HB_NORTH"])["rtm_prices"]
    frame = frame[frame.delivery_date != "2024-07-31"]  # e.g. a table whose last day is not settled yet
    checks = results("rtm_prices", frame, start, end)
    assert checks["missing_hours"].passed  # 24 of 1464 hours: within the 2% tolerance by design
    assert not checks["hours_per_day"].passed

"""Tidy-table validation: impossible data fails with a message naming the source, the row and the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dart_assets.market import schemas, synthetic
from dart_assets.market.schemas import MarketDataError


@pytest.fixture(scope="module")
def day() -> dict[str, pd.DataFrame]:
    return synthetic.generate("2024-06-01", "2024-06-01", ["HB_NORTH"])


@pytest.fixture(scope="module")
def day_2021() -> dict[str, pd.DataFrame]:
    return synthetic.generate("2021-02-16", "2021-02-16", ["HB_NORTH"])


def error(kind: str, frame: pd.DataFrame, source: str = "reports/DAMLZHBSPP_2024.xlsx") -> str:
    with pytest.raises(MarketDataError) as caught:
        schemas.validate(kind, frame, source)
    message = str(caught.value)
    assert message.startswith(f"{source}: {kind} failed validation")
    return message


def with_value(frame: pd.DataFrame, row: int, column: str, value) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[row, column] = value
    return frame


def test_valid_tables_pass_unchanged(day):
    for kind, frame in day.items():
        pd.testing.assert_frame_equal(schemas.validate(kind, frame, "synthetic"), frame)


@pytest.mark.parametrize(("price", "ok"), [(5750.0, True), (5750.01, False), (-1000.0, True), (-1000.01, False)])
def test_floor_and_cap_with_headroom_from_2022(day, price, ok):
    frame = with_value(day["dam_prices"], 5, "dam_price", price)
    if ok:
        schemas.validate("dam_prices", frame, "src")
        return
    message = error("dam_prices", frame)
    assert "(1 problem(s))" in message
    assert "row 5: " in message
    assert ("offer cap" if price > 0 else "below floor -250.0 minus headroom") in message


def test_the_cap_was_9000_before_2022(day_2021):
    schemas.validate("rtm_prices", with_value(day_2021["rtm_prices"], 3, "rtm_price", 9700.0), "src")
    message = error("rtm_prices", with_value(day_2021["rtm_prices"], 3, "rtm_price", 9800.0), "ercot:/data")
    assert "row 3: rtm_price at or below the offer cap (9000 before 2022, 5000 after)" in message


def test_nan_price_fails_naming_the_row_and_column(day):
    message = error("rtm_prices", with_value(day["rtm_prices"], 7, "rtm_price", np.nan), "table:prices.csv")
    assert "row 7: column 'rtm_price': not_nullable" in message


def test_every_problem_is_counted_and_the_first_ones_listed(day):
    frame = day["dam_prices"].copy()
    frame.loc[[2, 4, 6], "dam_price"] = -2000.0
    message = error("dam_prices", frame)
    assert "(3 problem(s))" in message
    assert [line.split(":")[0].strip() for line in message.splitlines()[1:]] == ["row 2", "row 4", "row 6"]


@pytest.mark.parametrize(
    ("kind", "column", "value", "expected"),
    [
        ("dam_prices", "hour_ending", 25, "row 0: column 'hour_ending': in_range(1, 24), value 25"),
        (
            "system_conditions",
            "temperature_f",
            250.0,
            "row 0: column 'temperature_f': in_range(-200.0, 200.0), value 250.0",
        ),
        ("system_conditions", "load_mw", -5.0, "row 0: column 'load_mw': in_range(0.0, 200000.0), value -5.0"),
        ("rtm_prices", "settlement_point", "", "row 0: column 'settlement_point': str_length"),
    ],
)
def test_impossible_values_fail(day, kind, column, value, expected):
    assert expected in error(kind, with_value(day[kind], 0, column, value))


def test_driver_columns_may_be_absent_or_blank(day):
    system = day["system_conditions"].drop(columns=schemas.SYSTEM_FORECASTS)
    system.loc[3, "wind_mw"] = np.nan
    schemas.validate("system_conditions", system, "ercot")


def test_text_prices_fail(day):
    frame = day["dam_prices"].assign(dam_price=day["dam_prices"].dam_price.astype(str))
    assert "column 'dam_price': dtype('float64')" in error("dam_prices", frame)


def test_unexpected_or_missing_columns_are_named(day):
    assert "foo" in error("system_conditions", day["system_conditions"].assign(foo=1.0))
    assert "settlement_point" in error("dam_prices", day["dam_prices"].drop(columns="settlement_point"))

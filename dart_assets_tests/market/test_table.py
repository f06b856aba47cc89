"""Tidy-table reader: CSV and Parquet in the project's own layout."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from dart_assets.market import schemas, table
from dart_assets.market.schemas import MarketDataError
from dart_assets_tests.market import fixtures as fx

DAYS = [fx.NORMAL_DAY, fx.FALL_BACK]
ALL = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
POINTS = list(fx.POINTS)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def write_csv(path, frame: pd.DataFrame):
    frame.to_csv(path, index=False)
    return path


def local_iso(frame: pd.DataFrame) -> pd.DataFrame:
    """timestamp_utc written as Central time with its offset, as many exports do."""
    stamps = frame["timestamp_utc"].dt.tz_convert("America/Chicago")
    return frame.assign(timestamp_utc=stamps.map(lambda t: t.isoformat()))


def read_error(tmp_path, frame: pd.DataFrame, points=POINTS) -> str:
    path = write_csv(tmp_path / "tidy.csv", frame)
    with pytest.raises(MarketDataError) as caught:
        table.read_table(path, *ALL, points)
    message = str(caught.value)
    assert message.startswith(str(path))
    return message


def test_csv_with_offsets_gives_validated_tables_on_the_ercot_clock(tmp_path):
    path = write_csv(tmp_path / "tidy.csv", local_iso(fx.tidy_table(DAYS)))

    tables = table.read_table(path, *ALL, POINTS)

    dam, rtm = tables["dam_prices"], tables["rtm_prices"]
    assert list(dam.columns) == schemas.DAM_COLUMNS and list(rtm.columns) == schemas.RTM_COLUMNS
    assert len(dam) == len(rtm) == 2 * (24 + 25)
    he24 = dam[(dam.settlement_point == "HB_NORTH") & (dam.delivery_date == pd.Timestamp(fx.NORMAL_DAY))].iloc[-1]
    assert (he24.timestamp_utc, he24.hour_ending, he24.dam_price) == (utc("2024-01-03 05:00"), 24, 44.0)
    repeated = rtm[rtm.repeated_hour & (rtm.settlement_point == "LZ_HOUSTON")]
    assert len(repeated) == 1
    assert (repeated.iloc[0].timestamp_utc, repeated.iloc[0].hour_ending, repeated.iloc[0].rtm_price) == (
        utc("2024-11-03 07:00"),
        2,
        136.5,
    )


def test_parquet_and_naive_utc_csv_read_the_same(tmp_path):
    tidy = fx.tidy_table(DAYS)
    tidy.to_parquet(tmp_path / "tidy.parquet", index=False)
    naive = tidy.assign(timestamp_utc=tidy.timestamp_utc.dt.strftime("%Y-%m-%d %H:%M:%S"))
    write_csv(tmp_path / "naive.csv", naive)

    from_parquet = table.read_table(tmp_path / "tidy.parquet", *ALL, POINTS)
    from_csv = table.read_table(tmp_path / "naive.csv", *ALL, POINTS)
    for kind in ("dam_prices", "rtm_prices", "system_conditions"):
        pd.testing.assert_frame_equal(from_parquet[kind], from_csv[kind])
    assert from_csv["dam_prices"].timestamp_utc.iloc[0] == utc("2024-01-02 06:00")


def test_system_conditions_average_the_drivers_over_points(tmp_path):
    path = write_csv(tmp_path / "tidy.csv", fx.tidy_table([fx.NORMAL_DAY]))

    system = table.read_table(path, fx.NORMAL_DAY, fx.NORMAL_DAY, ["HB_NORTH"])["system_conditions"]

    assert list(system.columns) == [*schemas.KEY_COLUMNS, "load_mw"]
    assert len(system) == 24
    assert system.load_mw.iloc[0] == 40_201.0 + 5.0  # HB_NORTH 40,201 and LZ_HOUSTON 40,211
    assert system.timestamp_utc.is_monotonic_increasing


def test_no_driver_columns_gives_no_system_conditions(tmp_path):
    path = write_csv(tmp_path / "tidy.csv", fx.tidy_table([fx.NORMAL_DAY]).drop(columns="load_mw"))
    assert table.read_table(path, *ALL, POINTS)["system_conditions"] is None


def test_date_range_and_points_filter(tmp_path):
    path = write_csv(tmp_path / "tidy.csv", fx.tidy_table(DAYS))

    dam = table.read_table(path, fx.FALL_BACK, fx.FALL_BACK, ["LZ_HOUSTON"])["dam_prices"]
    assert set(dam.settlement_point) == {"LZ_HOUSTON"}
    assert set(dam.delivery_date) == {pd.Timestamp(fx.FALL_BACK)}
    assert len(dam) == 25


def test_blank_rtm_price_leaves_the_hour_out_of_rtm_only(tmp_path):
    tidy = fx.tidy_table([fx.NORMAL_DAY])
    tidy.loc[3, "rtm_price"] = None
    path = write_csv(tmp_path / "tidy.csv", tidy)

    tables = table.read_table(path, *ALL, POINTS)
    assert (len(tables["dam_prices"]), len(tables["rtm_prices"])) == (48, 47)


def test_missing_column_lists_expected_and_found(tmp_path):
    message = read_error(tmp_path, fx.tidy_table([fx.NORMAL_DAY]).drop(columns="rtm_price"))
    assert "missing column(s) ['rtm_price']" in message
    assert "found ['timestamp_utc', 'settlement_point', 'dam_price', 'load_mw']" in message


def test_unknown_column_is_rejected(tmp_path):
    message = read_error(tmp_path, fx.tidy_table([fx.NORMAL_DAY]).rename(columns={"load_mw": "load_MW"}))
    assert "unexpected column(s) ['load_MW']" in message and "load_mw" in message


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("timestamp_utc", "02/01/2024 6am", "unparseable timestamp_utc '02/01/2024 6am'"),
        ("timestamp_utc", "2024-01-02T06:30:00Z", "timestamp_utc '2024-01-02T06:30:00Z' is not on the hour"),
        ("dam_price", "n/a", "dam_price 'n/a' is not a number"),
        ("load_mw", "lots", "load_mw 'lots' is not a number"),
    ],
)
def test_bad_cell_names_the_csv_line(tmp_path, column, value, problem):
    tidy = fx.tidy_table([fx.NORMAL_DAY]).astype({column: object})
    tidy.loc[6, column] = value
    message = read_error(tmp_path, tidy)
    assert f"row 8: {problem}" in message


def test_duplicate_timestamp_and_point(tmp_path):
    tidy = fx.tidy_table([fx.NORMAL_DAY])
    tidy = pd.concat([tidy, tidy.iloc[[5]]], ignore_index=True)
    message = read_error(tmp_path, tidy)
    assert f"row {len(tidy) + 1}: duplicate of row 7 (HB_NORTH at 2024-01-02 11:00 UTC)" in message


def test_requested_point_missing_lists_available(tmp_path):
    message = read_error(tmp_path, fx.tidy_table([fx.NORMAL_DAY]), ["HB_WEST"])
    assert re.search(r"\['HB_WEST'\] not found .* available: \['HB_NORTH', 'LZ_HOUSTON'\]", message)

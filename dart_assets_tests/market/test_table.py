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
    for kind in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"):
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


# ------------------------------------------------------------------------------------------------ driver forecasts

FORECASTS = ["load_forecast_mw", "wind_forecast_mw", "wind_forecast_west_mw"]


def with_forecasts(frame: pd.DataFrame) -> pd.DataFrame:
    """Forecast columns as the shared real file carries them: posted D-1 at 09:55 Central, as ISO text in UTC."""
    day = frame.timestamp_utc.dt.tz_convert("America/Chicago").dt.tz_localize(None).dt.normalize()
    posted = (day - pd.Timedelta(days=1) + pd.Timedelta("09:55:00")).dt.tz_localize("America/Chicago")
    return frame.assign(
        load_forecast_mw=frame.load_mw + 100.0,
        wind_forecast_mw=20_000.0,
        wind_forecast_west_mw=12_000.0 + frame.index % 7,
        forecast_posted_utc=posted.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def test_forecast_columns_go_to_driver_forecasts_with_their_posting_time(tmp_path):
    path = write_csv(tmp_path / "tidy.csv", with_forecasts(fx.tidy_table(DAYS)))

    tables = table.read_table(path, *ALL, POINTS)

    assert set(tables) == set(schemas.MARKET_TABLES)
    assert list(tables["system_conditions"].columns) == [*schemas.KEY_COLUMNS, "load_mw"]
    forecasts = tables["driver_forecasts"]
    assert list(forecasts.columns) == [*schemas.FORECAST_KEY_COLUMNS, *FORECASTS]
    assert len(forecasts) == 24 + 25 and forecasts.timestamp_utc.is_unique
    posted = forecasts.groupby("delivery_date").posted_utc.unique().map(list).to_dict()
    assert posted == {
        pd.Timestamp(fx.NORMAL_DAY): [utc("2024-01-01 15:55")],  # 09:55 CST
        pd.Timestamp(fx.FALL_BACK): [utc("2024-11-02 14:55")],  # 09:55 CDT
    }
    first = forecasts.iloc[0]
    # System-wide: the mean over the points (LZ_HOUSTON's load is 10 MW higher, its west wind row index 24 further).
    assert first.load_forecast_mw == fx.ercot_load(fx.NORMAL_DAY, 1, False) + 100.0 + 5.0
    assert first.wind_forecast_west_mw == 12_000.0 + (0 + 24 % 7) / 2


def test_each_posting_is_its_own_row(tmp_path):
    tidy = with_forecasts(fx.tidy_table([fx.NORMAL_DAY]))
    later = tidy.settlement_point == "LZ_HOUSTON"
    tidy.loc[later, "forecast_posted_utc"] = "2024-01-01T16:55:00Z"
    path = write_csv(tmp_path / "tidy.csv", tidy)

    forecasts = table.read_table(path, *ALL, POINTS)["driver_forecasts"]

    assert len(forecasts) == 48
    assert forecasts.groupby("timestamp_utc").posted_utc.apply(list).iloc[0] == [
        utc("2024-01-01 15:55"),
        utc("2024-01-01 16:55"),
    ]
    assert forecasts.load_forecast_mw.iloc[1] == fx.ercot_load(fx.NORMAL_DAY, 1, False) + 100.0 + 10.0


def test_forecasts_without_a_posting_time_are_refused(tmp_path):
    tidy = with_forecasts(fx.tidy_table([fx.NORMAL_DAY])).drop(columns="forecast_posted_utc")
    message = read_error(tmp_path, tidy)
    assert "forecast column(s) ['load_forecast_mw', 'wind_forecast_mw', 'wind_forecast_west_mw'] need a" in message
    assert "forecast_posted_utc column" in message and "add it, or drop the forecast columns" in message


def test_forecast_values_with_a_blank_posting_time_name_the_line(tmp_path):
    tidy = with_forecasts(fx.tidy_table([fx.NORMAL_DAY]))
    tidy.loc[4, "forecast_posted_utc"] = None
    assert "row 6: forecast values but no forecast_posted_utc" in read_error(tmp_path, tidy)


def test_a_row_without_forecasts_needs_no_posting_time(tmp_path):
    tidy = with_forecasts(fx.tidy_table([fx.NORMAL_DAY], ["HB_NORTH"]))
    tidy.loc[4, [*FORECASTS, "forecast_posted_utc"]] = None
    path = write_csv(tmp_path / "tidy.csv", tidy)

    tables = table.read_table(path, *ALL, ["HB_NORTH"])
    assert (len(tables["dam_prices"]), len(tables["driver_forecasts"])) == (24, 23)


def test_a_gap_in_the_file_is_absent_not_an_error(tmp_path):
    days = [dt.date(2024, 1, 1), dt.date(2024, 1, 4)]
    path = write_csv(tmp_path / "tidy.csv", with_forecasts(fx.tidy_table(days)))

    gap = table.read_table(path, dt.date(2024, 1, 2), dt.date(2024, 1, 3), POINTS)
    assert all(gap[kind].empty for kind in schemas.MARKET_TABLES)
    around = table.read_table(path, dt.date(2024, 1, 1), dt.date(2024, 1, 4), POINTS)
    assert around["dam_prices"].delivery_date.dt.day.unique().tolist() == [1, 4]
    assert around["driver_forecasts"].delivery_date.dt.day.unique().tolist() == [1, 4]


def test_a_point_missing_from_the_whole_file_is_an_error_even_in_a_gap(tmp_path):
    path = write_csv(tmp_path / "tidy.csv", fx.tidy_table([dt.date(2024, 1, 1)]))
    with pytest.raises(MarketDataError, match=r"\['HB_WEST'\] not found in any row; available: "):
        table.read_table(path, dt.date(2024, 1, 2), dt.date(2024, 1, 3), ["HB_NORTH", "HB_WEST"])


REAL_TABLE = fx.SHARED / "real" / "ercot_hubs_2024-01_2024-09_forecasts.csv"
HUBS = ["HB_WEST", "HB_NORTH", "HB_HOUSTON"]


@pytest.mark.skipif(not REAL_TABLE.is_file(), reason=f"real ERCOT extracts not found at {REAL_TABLE}")
def test_real_table_around_the_march_gap():
    tables = table.read_table(REAL_TABLE, dt.date(2024, 3, 9), dt.date(2024, 3, 18), HUBS)

    per_day = {str(k.date()): v for k, v in tables["dam_prices"].groupby("delivery_date").size().items()}
    assert per_day == {"2024-03-09": 3 * 24, "2024-03-10": 3 * 1, "2024-03-17": 3 * 21, "2024-03-18": 3 * 24}
    forecasts = tables["driver_forecasts"]
    assert list(forecasts.columns) == [
        *schemas.FORECAST_KEY_COLUMNS,
        "load_forecast_mw",
        "wind_forecast_mw",
        "solar_forecast_mw",
        "wind_forecast_west_mw",
        "solar_forecast_farwest_mw",
    ]
    assert len(forecasts) == 24 + 1 + 21 + 24 and forecasts.timestamp_utc.is_unique
    by_hour = forecasts.set_index("timestamp_utc")
    cst, cdt = by_hour.loc[utc("2024-03-09 06:00")], by_hour.loc[utc("2024-03-18 05:00")]  # HE 01 of each day
    assert (cst.hour_ending, cst.posted_utc, cst.wind_forecast_mw) == (1, utc("2024-03-08 15:55:41"), 23997.0)
    assert (cdt.hour_ending, cdt.posted_utc, cdt.wind_forecast_west_mw) == (1, utc("2024-03-17 14:55:35"), 5787.3)
    assert list(tables["system_conditions"].columns) == [*schemas.KEY_COLUMNS, "load_mw"]

    gap = table.read_table(REAL_TABLE, dt.date(2024, 3, 11), dt.date(2024, 3, 16), HUBS)
    assert all(gap[kind].empty for kind in schemas.MARKET_TABLES)

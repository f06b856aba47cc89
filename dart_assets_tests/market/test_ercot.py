"""ERCOT report-file reader: small generated files in the real layouts, plus the real extracts when present."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from dart_assets.market import ercot, schemas
from dart_assets.market.schemas import MarketDataError
from dart_assets_tests.market import fixtures as fx

SHARED = fx.SHARED
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real ERCOT extracts not found at {SHARED}")

D = dt.date
DAYS = [fx.NORMAL_DAY, fx.SPRING_FORWARD, fx.FALL_BACK]
ALL = (D(2024, 1, 1), D(2024, 12, 31))


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def one(frame: pd.DataFrame, point: str, day: dt.date, hour: int, repeated: bool = False) -> pd.Series:
    rows = frame[
        (frame.settlement_point == point)
        & (frame.delivery_date == pd.Timestamp(day))
        & (frame.hour_ending == hour)
        & (frame.repeated_hour == repeated)
    ]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def day_of(frame: pd.DataFrame, point: str, day: dt.date) -> pd.DataFrame:
    return frame[(frame.settlement_point == point) & (frame.delivery_date == pd.Timestamp(day))]


@pytest.fixture(scope="module")
def dam_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dam")
    fx.dam_workbook(folder / "DAMLZHBSPP_2024.xlsx", fx.dam_rows(DAYS))
    return folder


@pytest.fixture(scope="module")
def rtm_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rtm")
    fx.rtm_workbook(folder / "nested" / "rtm_spp_2024_gridstatus.xlsx", fx.rtm_rows(DAYS, tuple(fx.RTM_TYPES)))
    return folder


def dam_error(tmp_path: Path, rows: list[tuple], points=fx.POINTS) -> str:
    path = fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", rows)
    with pytest.raises(MarketDataError) as caught:
        ercot.read_dam(tmp_path, *ALL, list(points))
    message = str(caught.value)
    assert str(path) in message
    return message


# ------------------------------------------------------------------------------------------------ the clock


def test_dam_contract_and_hour_ending_24_closes_the_delivery_date(dam_folder):
    dam = ercot.read_dam(dam_folder, fx.NORMAL_DAY, fx.NORMAL_DAY, ["HB_NORTH", "LZ_HOUSTON"])

    assert list(dam.columns) == schemas.DAM_COLUMNS
    assert dam.dtypes.astype(str).tolist() == [
        "datetime64[ns, UTC]",
        "datetime64[ns]",
        "int64",
        "bool",
        "object",
        "float64",
    ]
    assert len(dam) == 48
    he01 = one(dam, "HB_NORTH", fx.NORMAL_DAY, 1)
    assert (he01.timestamp_utc, he01.dam_price) == (utc("2024-01-02 06:00"), 21.0)  # 00:00 CST
    he24 = one(dam, "LZ_HOUSTON", fx.NORMAL_DAY, 24)
    assert he24.timestamp_utc == utc("2024-01-03 05:00")  # hour beginning 23:00 CST on the delivery date
    assert he24.delivery_date == pd.Timestamp("2024-01-02")
    assert he24.dam_price == 144.0
    assert dam[["timestamp_utc", "settlement_point"]].equals(
        dam[["timestamp_utc", "settlement_point"]].sort_values(["timestamp_utc", "settlement_point"])
    )


def test_fall_back_day_has_25_hours_with_the_repeated_hour_at_its_own_utc_time(dam_folder):
    dam = ercot.read_dam(dam_folder, fx.FALL_BACK, fx.FALL_BACK, ["HB_NORTH", "LZ_HOUSTON"])

    for point in fx.POINTS:
        day = day_of(dam, point, fx.FALL_BACK)
        assert len(day) == 25
        assert day.timestamp_utc.diff().dropna().eq(pd.Timedelta(hours=1)).all()
    first = one(dam, "HB_NORTH", fx.FALL_BACK, 2)
    second = one(dam, "HB_NORTH", fx.FALL_BACK, 2, repeated=True)
    assert (first.timestamp_utc, first.dam_price) == (utc("2024-11-03 06:00"), 32.0)  # 01:00 CDT
    assert (second.timestamp_utc, second.dam_price) == (utc("2024-11-03 07:00"), 32.5)  # 01:00 CST
    assert one(dam, "HB_NORTH", fx.FALL_BACK, 3).timestamp_utc == utc("2024-11-03 08:00")


def test_spring_forward_day_has_23_hours(dam_folder):
    dam = ercot.read_dam(dam_folder, fx.SPRING_FORWARD, fx.SPRING_FORWARD, ["HB_NORTH"])

    assert len(dam) == 23
    assert 3 not in set(dam.hour_ending)
    assert one(dam, "HB_NORTH", fx.SPRING_FORWARD, 2).timestamp_utc == utc("2024-03-10 07:00")  # 01:00 CST
    assert one(dam, "HB_NORTH", fx.SPRING_FORWARD, 4).timestamp_utc == utc("2024-03-10 08:00")  # 03:00 CDT
    assert dam.timestamp_utc.diff().dropna().eq(pd.Timedelta(hours=1)).all()


def test_date_range_and_points_are_filtered(tmp_path):
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([D(2024, 1, d) for d in (1, 2, 3, 4)]))

    dam = ercot.read_dam(tmp_path, D(2024, 1, 2), D(2024, 1, 3), ["LZ_HOUSTON"])

    assert set(dam.settlement_point) == {"LZ_HOUSTON"}
    assert set(dam.delivery_date) == {pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")}
    assert len(dam) == 48


def test_days_the_files_do_not_cover_give_empty_tables(dam_folder, rtm_folder):
    for day in (D(2024, 1, 20), D(2024, 6, 1)):  # a month sheet without that day, and no sheet for the month
        dam = ercot.read_dam(dam_folder, day, day, ["HB_NORTH", "HB_WEST"])
        rtm = ercot.read_rtm(rtm_folder, day, day, ["HB_NORTH"])
        assert dam.empty and list(dam.columns) == schemas.DAM_COLUMNS
        assert rtm.empty and list(rtm.columns) == schemas.RTM_COLUMNS


def test_only_month_sheets_overlapping_the_range_are_read(tmp_path):
    rows = fx.dam_rows([D(2024, 1, 5), D(2024, 3, 5)])
    rows[1] = ("not a date", *rows[1][1:])  # breaks the Jan sheet only
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", rows)

    march = ercot.read_dam(tmp_path, D(2024, 3, 1), D(2024, 3, 31), ["HB_NORTH"])
    assert len(march) == 24
    with pytest.raises(MarketDataError, match="sheet 'Jan', row 3: unparseable delivery date 'not a date'"):
        ercot.read_dam(tmp_path, D(2024, 1, 1), D(2024, 1, 31), ["HB_NORTH"])


def test_workbook_of_another_year_is_not_opened(tmp_path):
    (tmp_path / "DAMLZHBSPP_2023.xlsx").write_text("not a workbook")  # would fail if opened
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([fx.NORMAL_DAY]))

    assert len(ercot.read_dam(tmp_path, fx.NORMAL_DAY, fx.NORMAL_DAY, ["HB_NORTH"])) == 24


# ----------------------------------------------------------------------------------------------------- RTM


def test_rtm_averages_four_intervals_and_keeps_lz_over_lzew_and_hu_over_sh(rtm_folder):
    rtm = ercot.read_rtm(rtm_folder, fx.NORMAL_DAY, fx.NORMAL_DAY, ["HB_NORTH", "LZ_HOUSTON", "HB_BUSAVG"])

    assert list(rtm.columns) == schemas.RTM_COLUMNS
    assert len(rtm) == 3 * 24
    # HB_NORTH HE05 on Jan 2: intervals 26, 27, 29, 34 (HU); the SH rows are 50 higher.
    assert one(rtm, "HB_NORTH", fx.NORMAL_DAY, 5).rtm_price == pytest.approx((26 + 27 + 29 + 34) / 4)
    # LZ_HOUSTON HE01: LZ intervals 122, 123, 125, 130 -> 125.0 (LZEW would give 175.0).
    assert one(rtm, "LZ_HOUSTON", fx.NORMAL_DAY, 1).rtm_price == pytest.approx(125.0)
    # A point that only carries SH is kept; its first row's date is a spreadsheet datetime in the file.
    busavg = one(rtm, "HB_BUSAVG", fx.NORMAL_DAY, 1)
    assert (busavg.timestamp_utc, busavg.rtm_price) == (utc("2024-01-02 06:00"), pytest.approx(25.0))


def test_rtm_dst_days_average_the_repeated_hour_separately(rtm_folder):
    rtm = ercot.read_rtm(rtm_folder, fx.SPRING_FORWARD, fx.FALL_BACK, ["HB_NORTH"])

    assert len(day_of(rtm, "HB_NORTH", fx.SPRING_FORWARD)) == 23
    assert len(day_of(rtm, "HB_NORTH", fx.FALL_BACK)) == 25
    first = one(rtm, "HB_NORTH", fx.FALL_BACK, 2)
    second = one(rtm, "HB_NORTH", fx.FALL_BACK, 2, repeated=True)
    assert (first.timestamp_utc, first.rtm_price) == (utc("2024-11-03 06:00"), pytest.approx(36.0))
    assert (second.timestamp_utc, second.rtm_price) == (utc("2024-11-03 07:00"), pytest.approx(36.5))


def test_daily_csv_and_zipped_reports_read_like_the_workbooks(tmp_path, dam_folder, rtm_folder):
    daily = tmp_path / "daily"
    fx.write_csv(
        daily / "cdr.00012331.0000000000000000.20240101.123000.DAMSPNP4190.csv",
        fx.DAM_CSV_HEADER,
        fx.dam_csv_rows([fx.NORMAL_DAY]),
    )
    fx.write_zip(
        daily / "cdr.00012331.0000000000000000.20241102.123000.DAMSPNP4190_csv.zip",
        "cdr.00012331.0000000000000000.20241102.123000.DAMSPNP4190.csv",
        fx.csv_text(fx.DAM_CSV_HEADER, fx.dam_csv_rows([fx.FALL_BACK])),
    )
    for day in (fx.NORMAL_DAY, fx.FALL_BACK):  # NP6-905-CD: any split of intervals over files
        fx.write_zip(
            daily / f"cdr.00012301.0000000000000000.{day:%Y%m%d}.SPPHLZNP6905_{day:%Y%m%d}_csv.zip",
            f"SPPHLZNP6905_{day:%Y%m%d}.csv",
            fx.csv_text(fx.RTM_CSV_HEADER, fx.rtm_csv_rows([day])),
        )
    days = (fx.NORMAL_DAY, fx.FALL_BACK)

    for read, folder in ((ercot.read_dam, dam_folder), (ercot.read_rtm, rtm_folder)):
        from_daily = read(daily, *days, ["HB_NORTH", "LZ_HOUSTON"])
        from_workbook = read(folder, *days, ["HB_NORTH", "LZ_HOUSTON"])
        from_workbook = from_workbook[from_workbook.delivery_date != pd.Timestamp(fx.SPRING_FORWARD)]
        assert len(from_daily) == 2 * (24 + 25)
        pd.testing.assert_frame_equal(from_daily, from_workbook.reset_index(drop=True))


def test_the_same_rows_in_overlapping_files_are_read_once(tmp_path):
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([fx.NORMAL_DAY]))
    fx.write_csv(tmp_path / "DAMSPNP4190_20240102.csv", fx.DAM_CSV_HEADER, fx.dam_csv_rows([fx.NORMAL_DAY]))

    dam = ercot.read_dam(tmp_path, fx.NORMAL_DAY, fx.NORMAL_DAY, ["HB_NORTH"])
    assert len(dam) == 24


def test_uri_prices_at_the_9000_cap_pass_validation(tmp_path):
    uri = D(2021, 2, 16)
    rows = [(*row[:4], 9000.0) for row in fx.dam_rows([uri])]
    rows[0] = (*rows[0][:4], 9052.53)  # load zones settle a little above the cap
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2021.xlsx", rows)

    dam = ercot.read_dam(tmp_path, uri, uri, ["HB_NORTH", "LZ_HOUSTON"])
    assert dam.dam_price.max() == 9052.53
    assert (dam.dam_price == 9000.0).sum() == 47


def test_price_beyond_the_cap_fails_validation_naming_file_and_row(tmp_path):
    rows = fx.dam_rows([fx.NORMAL_DAY])
    rows[7] = (*rows[7][:4], 12_000.0)
    message = dam_error(tmp_path, rows)
    assert "sheet 'Jan', row 9" in message and "offer cap" in message


# ------------------------------------------------------------------------------------------------ bad input


def test_missing_column_lists_expected_and_found(tmp_path):
    path = fx.write_xlsx(
        tmp_path / "DAMLZHBSPP_2024.xlsx", (*fx.DAM_HEADER[:4], "Price"), {"Jan": fx.dam_rows([fx.NORMAL_DAY])}
    )
    with pytest.raises(MarketDataError) as caught:
        ercot.read_dam(tmp_path, *ALL, ["HB_NORTH"])
    message = str(caught.value)
    assert message.startswith(f"{path}, sheet 'Jan': missing column(s) ['Settlement Point Price']")
    assert "expected ['Delivery Date', 'Hour Ending', 'Repeated Hour Flag', 'Settlement Point', " in message
    assert "found ['Delivery Date', 'Hour Ending', 'Repeated Hour Flag', 'Settlement Point', 'Price']" in message


@pytest.mark.parametrize(
    ("index", "column", "value", "problem"),
    [
        (5, 0, "13/45/2024", "unparseable delivery date '13/45/2024'"),
        (3, 4, "n/a", "settlement point price 'n/a' is not a number"),
        (3, 4, None, "missing settlement point price"),
        (10, 1, "7:30", "hour ending '7:30' is not a whole number"),
        (10, 2, "maybe", "repeated hour flag 'maybe' is not Y or N"),
    ],
)
def test_bad_cell_names_file_sheet_and_excel_row(tmp_path, index, column, value, problem):
    rows = fx.dam_rows([fx.NORMAL_DAY])
    rows[index] = tuple(value if i == column else v for i, v in enumerate(rows[index]))
    message = dam_error(tmp_path, rows)
    assert f"sheet 'Jan', row {index + 2}: {problem}" in message


def test_more_hours_than_the_fall_back_day_has(tmp_path):
    rows = fx.dam_rows([fx.FALL_BACK], ["HB_NORTH"])
    rows.insert(3, ("11/03/2024", "02:00", "Y", "HB_NORTH", 40.0))  # a second repeated HE02
    message = dam_error(tmp_path, rows, ["HB_NORTH"])
    assert "sheet 'Nov', row 5: 26 hours on 2024-11-03 for HB_NORTH, more than the 25 the day has" in message


def test_hour_repeated_within_one_file_names_both_rows(tmp_path):
    rows = fx.dam_rows([fx.NORMAL_DAY], ["HB_NORTH"])
    rows[5] = ("01/02/2024", "05:00", "N", "HB_NORTH", 25.0)  # HE05 twice, HE06 gone: still 24 rows
    message = dam_error(tmp_path, rows, ["HB_NORTH"])
    assert "sheet 'Jan', row 7: hour ending 05 on 2024-01-02 for HB_NORTH already appears at row 6" in message


def test_hour_ending_03_on_the_spring_forward_day(tmp_path):
    rows = fx.dam_rows([fx.SPRING_FORWARD], ["HB_NORTH"])
    rows.insert(2, ("03/10/2024", "03:00", "N", "HB_NORTH", 33.0))
    message = dam_error(tmp_path, rows, ["HB_NORTH"])
    assert re.search(r"sheet 'Mar', row 4: 2024-03-10 hour ending 03 does not exist", message)


def test_duplicate_rows_with_conflicting_prices_name_both_files(tmp_path):
    workbook = fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([fx.NORMAL_DAY]))
    csv_rows = fx.dam_csv_rows([fx.NORMAL_DAY])
    csv_rows[4] = (*csv_rows[4][:3], 99.0, "N")  # HB_NORTH HE03: 23.0 in the workbook
    daily = fx.write_csv(tmp_path / "DAMSPNP4190.csv", fx.DAM_CSV_HEADER, csv_rows)

    with pytest.raises(MarketDataError) as caught:
        ercot.read_dam(tmp_path, *ALL, ["HB_NORTH"])
    message = str(caught.value)
    assert "conflicting duplicate rows for hour ending 03 on 2024-01-02 for HB_NORTH" in message
    assert f"{daily}, row 6 has 99" in message and f"{workbook}, sheet 'Jan', row 6 has 23" in message


def test_requested_point_missing_lists_available(dam_folder):
    with pytest.raises(MarketDataError, match=r"\['HB_WEST'\] not found .* available: \['HB_NORTH', 'LZ_HOUSTON'\]"):
        ercot.read_dam(dam_folder, *ALL, ["HB_NORTH", "HB_WEST"])


def test_no_report_files_in_folder(tmp_path):
    with pytest.raises(MarketDataError, match=r"no RTM settlement point prices .* files found"):
        ercot.read_rtm(tmp_path, *ALL, ["HB_NORTH"])


def test_rtm_hour_missing_an_interval_cannot_be_averaged(tmp_path):
    rows = [r for r in fx.rtm_csv_rows([fx.NORMAL_DAY], ["HB_NORTH"]) if not (r[1] == 7 and r[2] == 3)]
    path = fx.write_csv(tmp_path / "SPPHLZNP6905.csv", fx.RTM_CSV_HEADER, rows)
    with pytest.raises(MarketDataError, match=re.escape(f"{path}, row ") + r"\d+: hour ending 07 .* has 3 of 4"):
        ercot.read_rtm(tmp_path, *ALL, ["HB_NORTH"])


def test_error_inside_a_zip_names_the_member_and_csv_line(tmp_path):
    rows = fx.rtm_csv_rows([fx.NORMAL_DAY], ["HB_NORTH"])
    rows[9] = (*rows[9][:5], "", "N")
    path = fx.write_zip(tmp_path / "SPPHLZNP6905_csv.zip", "SPPHLZNP6905.csv", fx.csv_text(fx.RTM_CSV_HEADER, rows))
    with pytest.raises(MarketDataError, match=re.escape(f"{path} (member SPPHLZNP6905.csv), row 11: missing")):
        ercot.read_rtm(tmp_path, *ALL, ["HB_NORTH"])


# ------------------------------------------------------------------------------------------------ native load


def test_native_load_archive_as_xlsx_and_zip(tmp_path):
    assert ercot.read_system(tmp_path, *ALL) is None

    xlsx = fx.load_workbook(tmp_path / "Native_Load_2024.xlsx", fx.load_rows([fx.NORMAL_DAY, fx.FALL_BACK]))
    zipped = tmp_path / "zipped"
    fx.write_zip(zipped / "Native_Load_2024.zip", "Native_Load_2024.xlsx", xlsx.read_bytes())
    for folder in (tmp_path, zipped):
        load = ercot.read_system(folder, *ALL)
        assert list(load.columns) == [*schemas.KEY_COLUMNS, "load_mw"]
        assert len(load) == 24 + 25
        he24 = load[(load.delivery_date == pd.Timestamp(fx.NORMAL_DAY)) & (load.hour_ending == 24)].iloc[0]
        assert (he24.timestamp_utc, he24.load_mw) == (utc("2024-01-03 05:00"), 40_224.0)
        repeated = load[load.repeated_hour].iloc[0]
        assert (repeated.timestamp_utc, repeated.hour_ending, repeated.load_mw) == (
            utc("2024-11-03 07:00"),
            2,
            40_302.5,
        )


def test_native_load_hour_ending_as_spreadsheet_datetime(tmp_path):
    rows = fx.load_rows([fx.NORMAL_DAY])
    rows[-1] = (dt.datetime(2024, 1, 3, 0, 0), *rows[-1][1:])  # HE24 stored as next-day midnight
    fx.load_workbook(tmp_path / "Native_Load_2024.xlsx", rows)

    load = ercot.read_system(tmp_path, fx.NORMAL_DAY, fx.NORMAL_DAY)
    last = load.iloc[-1]
    assert (last.delivery_date, last.hour_ending, last.load_mw) == (pd.Timestamp("2024-01-02"), 24, 40_224.0)


def test_native_load_bad_hour_ending(tmp_path):
    rows = fx.load_rows([fx.NORMAL_DAY])
    rows[4] = ("01/02/2024 5 PM", *rows[4][1:])
    path = fx.load_workbook(tmp_path / "Native_Load_2024.xlsx", rows)
    with pytest.raises(MarketDataError, match=re.escape(f"{path}, sheet 'Native Load Report', row 6: hour ending")):
        ercot.read_system(tmp_path, *ALL)


# ------------------------------------------------------------------------------------------------ real extracts


@needs_shared
def test_real_2021_uri_week_at_the_cap():
    dam = ercot.read_dam(SHARED, D(2021, 2, 14), D(2021, 2, 20), ["HB_NORTH", "HB_PAN", "LZ_AEN"])

    assert len(dam) == 3 * 7 * 24
    peaks = dam.groupby("settlement_point").dam_price.max()
    assert peaks.to_dict() == {"HB_NORTH": 8998.99, "HB_PAN": 9000.99, "LZ_AEN": 9052.53}


@needs_shared
def test_real_2021_dst_days():
    spring = ercot.read_dam(SHARED, D(2021, 3, 14), D(2021, 3, 14), ["HB_NORTH"])  # reads the Mar sheet only
    dam = ercot.read_dam(SHARED, D(2021, 11, 7), D(2021, 11, 7), ["HB_NORTH"])

    assert len(spring) == 23 and 3 not in set(spring.hour_ending)
    assert len(dam) == 25
    first = one(dam, "HB_NORTH", D(2021, 11, 7), 2)
    second = one(dam, "HB_NORTH", D(2021, 11, 7), 2, repeated=True)
    assert (first.timestamp_utc, first.dam_price) == (utc("2021-11-07 06:00"), 27.57)
    assert (second.timestamp_utc, second.dam_price) == (utc("2021-11-07 07:00"), 28.59)
    assert dam.timestamp_utc.is_unique and dam.timestamp_utc.is_monotonic_increasing


@needs_shared
def test_real_2025_dam_first_hour():
    dam = ercot.read_dam(SHARED, D(2025, 1, 1), D(2025, 1, 1), ["HB_NORTH"])
    he01 = one(dam, "HB_NORTH", D(2025, 1, 1), 1)
    assert (len(dam), he01.timestamp_utc, he01.dam_price) == (24, utc("2025-01-01 06:00"), 22.96)


@needs_shared
def test_real_rtm_march_2025_spring_forward_and_hourly_means():
    day = D(2025, 3, 9)
    rtm = ercot.read_rtm(SHARED, day, day, ["HB_NORTH", "HB_BUSAVG", "LZ_HOUSTON"])

    assert rtm.groupby("settlement_point").size().to_dict() == {"HB_BUSAVG": 23, "HB_NORTH": 23, "LZ_HOUSTON": 23}
    assert one(rtm, "HB_NORTH", day, 1).rtm_price == pytest.approx((26.12 + 26.16 + 24.93 + 25.55) / 4)
    assert one(rtm, "HB_NORTH", day, 4).timestamp_utc == utc("2025-03-09 08:00")

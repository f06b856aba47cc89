"""ERCOT forecast report readers: the committed MIS and API-layout fixtures, plus the real API pulls when present."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from dart_assets.market import ercot, forecast_reports, schemas
from dart_assets.market.schemas import MarketDataError
from dart_assets_tests.market import fixtures as fx

D = dt.date
FIX = fx.FORECAST_FIXTURES
REAL = fx.SHARED / "real"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason=f"real ERCOT extracts not found at {REAL}")

WIND_742 = "cdr.00014787.0000000000000000.20240309.095535000.WPPHRLYAVGACTGEONP4742_csv.zip"
SOLAR_745 = "cdr.00021809.0000000000000000.20240309.095536000.PVGRHRLYAVGACTGEONP4745.csv"
WIND_732 = "cdr.00013028.0000000000000000.20240316.095539000.WPPHRLYAVGACTNP4732_csv.zip"
SOLAR_737 = "cdr.00013483.0000000000000000.20240316.095537000.PVGRHRLYAVGACTNP4737.csv"
LOAD_565 = "cdr.00014837.0000000000000000.20241102.093000.LFMODWEATHERNP3565_csv.zip"
LOAD_560 = "cdr.00012311.0000000000000000.20240309.093000.LFCCONGESTNP3560.csv"
WIND_API = "np4-742-cd_api_2024-03-10_2024-03-17.csv"
SOLAR_API = "np4-745-cd_api_2024-03-10_2024-03-17.csv"
SPRING = D(2024, 3, 10)
FALL = D(2024, 11, 3)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def folder(tmp_path: Path, *names: str) -> Path:
    """A folder holding some of the fixtures."""
    tmp_path.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(FIX / name, tmp_path / name)
    return tmp_path


def read(path: Path, first: dt.date, last: dt.date | None = None) -> pd.DataFrame:
    table = ercot.read_forecasts(path, first, last or first)
    assert table is not None
    return table


def carrying(table: pd.DataFrame, column: str) -> pd.DataFrame:
    return table.dropna(subset=[column]).set_index("timestamp_utc")


def mis_rows(name: str) -> list[list[str]]:
    """A fixture's CSV lines split into cells (header first), read from the zip if it is one."""
    path = FIX / name
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            text = archive.read(archive.namelist()[0]).decode()
    else:
        text = path.read_text()
    return [line.split(",") for line in text.splitlines()]


def write_mis(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\r\n".join(",".join(row) for row in rows) + "\r\n")
    return path


def error(path: Path, first: dt.date = SPRING, last: dt.date | None = None) -> str:
    with pytest.raises(MarketDataError) as caught:
        ercot.read_forecasts(path, first, last or first)
    return str(caught.value)


# ----------------------------------------------------------------------------------------------------- MIS layout


def test_wind_by_region_on_the_spring_forward_day(tmp_path):
    table = read(folder(tmp_path, WIND_742), SPRING)

    assert list(table.columns) == [
        *schemas.FORECAST_KEY_COLUMNS,
        "wind_forecast_mw",
        *(f"wind_forecast_{region}_mw" for region in schemas.WIND_REGIONS),
    ]
    assert len(table) == 23 and 3 not in set(table.hour_ending)
    assert table.timestamp_utc.tolist() == list(pd.date_range("2024-03-10 06:00", periods=23, freq="h", tz="UTC"))
    assert set(table.posted_utc) == {utc("2024-03-09 15:55:35")}  # 09:55:35 CST
    he2, he4 = table.set_index("hour_ending").loc[[2, 4]].itertuples()
    assert (he2.timestamp_utc, he2.wind_forecast_mw, he2.wind_forecast_west_mw) == (
        utc("2024-03-10 07:00"),
        5368.6,
        1168.4,
    )
    assert (he4.timestamp_utc, he4.wind_forecast_mw, he4.wind_forecast_panhandle_mw) == (
        utc("2024-03-10 08:00"),
        5804.9,
        1931.5,
    )


def test_solar_by_region_keeps_the_row_with_blank_cop_hsl(tmp_path):
    table = read(folder(tmp_path, SOLAR_745), SPRING)

    assert len(table) == 23 and table.solar_forecast_mw.notna().all()
    assert set(table.posted_utc) == {utc("2024-03-09 15:55:36")}
    noon = table.set_index("timestamp_utc").loc[utc("2024-03-10 18:00")]  # HE 14, 13:00 CDT
    assert (noon.hour_ending, noon.solar_forecast_mw, noon.solar_forecast_farwest_mw) == (14, 15689.6, 3455.0)


def test_system_wide_reports_posted_in_daylight_time(tmp_path):
    table = read(folder(tmp_path, WIND_732, SOLAR_737), D(2024, 3, 17))

    assert list(table.columns) == [*schemas.FORECAST_KEY_COLUMNS, "wind_forecast_mw", "solar_forecast_mw"]
    # Two postings two seconds apart: 24 rows each, NaN where a posting does not carry the column.
    wind, solar = carrying(table, "wind_forecast_mw"), carrying(table, "solar_forecast_mw")
    assert len(table) == 48 and len(wind) == len(solar) == 24
    assert set(wind.posted_utc) == {utc("2024-03-16 14:55:39")} and wind.solar_forecast_mw.isna().all()
    assert set(solar.posted_utc) == {utc("2024-03-16 14:55:37")}
    assert wind.wind_forecast_mw[utc("2024-03-17 17:00")] == 10884.9  # HE 13, 12:00 CDT
    assert solar.solar_forecast_mw[utc("2024-03-17 18:00")] == 7638.2  # HE 14


def test_load_by_model_keeps_the_model_in_use_on_the_fall_back_day(tmp_path):
    table = read(folder(tmp_path, LOAD_565), FALL)

    zones = [f"load_forecast_{zone}_mw" for zone in schemas.LOAD_WEATHER_ZONES]
    assert list(table.columns) == [*schemas.FORECAST_KEY_COLUMNS, "load_forecast_mw", *zones]
    assert len(table) == 25 and table.timestamp_utc.is_unique
    assert set(table.posted_utc) == {utc("2024-11-02 14:30")}  # 09:30 CDT
    first, second = table[table.hour_ending == 2].itertuples()
    assert (first.timestamp_utc, first.repeated_hour, first.load_forecast_mw) == (
        utc("2024-11-03 06:00"),
        False,
        44519.73,
    )
    assert (second.timestamp_utc, second.repeated_hour, second.load_forecast_mw) == (
        utc("2024-11-03 07:00"),
        True,
        43523.3597,
    )
    assert second.load_forecast_coast_mw == 10880.8399  # model A3; A6 (not in use) reads 3 % more
    assert table[zones].sum(axis=1).round(4).equals(table.load_forecast_mw)


def test_load_by_forecast_zone_on_the_spring_forward_day(tmp_path):
    table = read(folder(tmp_path, LOAD_560), SPRING)

    zones = [f"load_forecast_zone_{zone}_mw" for zone in schemas.LOAD_FORECAST_ZONES]
    assert list(table.columns) == [*schemas.FORECAST_KEY_COLUMNS, "load_forecast_mw", *zones]
    assert len(table) == 23 and set(table.posted_utc) == {utc("2024-03-09 15:30")}
    he4 = table.set_index("hour_ending").loc[4]
    assert (he4.timestamp_utc, he4.load_forecast_zone_houston_mw) == (utc("2024-03-10 08:00"), 9525.125)


def test_the_two_layouts_of_one_posting_read_the_same(tmp_path):
    mis = read(folder(tmp_path / "mis", WIND_742, SOLAR_745), SPRING)
    api = read(folder(tmp_path / "api", WIND_API, SOLAR_API), SPRING)

    pd.testing.assert_frame_equal(mis, api)
    # The API labels the solar hour after 01:00 CST "03", the MIS "02": both are the hour from 07:00 UTC.
    assert carrying(api, "solar_forecast_mw").loc[utc("2024-03-10 07:00")].hour_ending == 2


def test_the_whole_folder_reads_each_posting_once(tmp_path):
    table = read(FIX, SPRING, D(2024, 3, 17))

    # 03-10: the wind, solar and load-zone postings (each in both layouts where the API cut has it), 03-17: the
    # 09:55:39 wind (NP4-742-CD API and NP4-732-CD) and the 09:55:37 solar posting.
    assert table.groupby("delivery_date").size().to_dict() == {
        pd.Timestamp(SPRING): 3 * 23,
        pd.Timestamp("2024-03-17"): 48,
    }
    assert not table.duplicated(["timestamp_utc", "posted_utc"]).any()
    march17 = carrying(table, "wind_forecast_west_mw")
    assert march17[march17.delivery_date == "2024-03-17"].wind_forecast_mw.notna().all()


def test_days_outside_the_files_give_an_empty_table_and_no_reports_give_none(tmp_path):
    empty = read(FIX, D(2024, 6, 1))
    assert empty.empty and list(empty.columns) == schemas.FORECAST_KEY_COLUMNS
    assert ercot.read_forecasts(tmp_path, SPRING, SPRING) is None
    fx.dam_workbook(tmp_path / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([SPRING]))
    assert ercot.read_forecasts(tmp_path, SPRING, SPRING) is None


def test_a_posting_too_old_or_too_late_for_the_range_is_not_opened(tmp_path):
    (tmp_path / "cdr.00014787.0000000000000000.20240301.095500.WPPHRLYAVGACTGEONP4742.csv").write_text("broken")
    (tmp_path / "cdr.00014787.0000000000000000.20240314.095500.WPPHRLYAVGACTGEONP4742.csv").write_text("broken")
    folder(tmp_path, WIND_742)

    assert len(read(tmp_path, SPRING)) == 23  # posted 03-01 reaches 03-08 at most, 03-14 looks back to 03-12
    assert "missing column(s)" in error(tmp_path, D(2024, 3, 9))  # 03-01's posting reaches 03-09: it is read


# ------------------------------------------------------------------------------------------------ posting times


@pytest.mark.parametrize(
    ("name", "posted"),
    [
        ("cdr.00014787.0000000000000000.20240309.095535123.WPPHRLYAVGACTGEONP4742_csv.zip", "2024-03-09 15:55:35.123"),
        ("14787_cdr.00014787.0000000000000000.20240716.095512.WPPHRLYAVGACTGEONP4742.csv", "2024-07-16 14:55:12"),
        ("x.zip (member cdr.00012311.0000000000000000.20241103.013000.LFCCONGESTNP3560.csv)", "2024-11-03 06:30"),
        ("cdr.00012311.0000000000000000.20241103.013000.LFCCONGESTNP3560_xhr.csv", "2024-11-03 07:30"),
        ("cdr.00012311.0000000000000000.20240310.023000.LFCCONGESTNP3560.csv", "2024-03-10 08:00"),
    ],
)
def test_posting_time_from_the_mis_file_name(name, posted):
    assert forecast_reports.posting_time(name) == utc(posted)


def test_a_name_without_a_stamp_has_no_posting_time():
    assert forecast_reports.posting_time("np4-742-cd_wind_forecast_2024-01_2024-09.parquet") is None


def api_day(day: str, hours: list[int], **columns) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "postedDatetime": "2024-11-02T09:55:00",
            "deliveryDate": day,
            "hourEnding": hours,
            "STPPFSystemWide": [100.0 + i for i in range(len(hours))],
            **{f"STPPF{region}": 10.0 for region in ("CenterWest", "NorthWest", "FarWest", "FarEast")},
            **{f"STPPF{region}": 10.0 for region in ("SouthEast", "CenterEast")},
            **columns,
        }
    )


def test_api_fall_back_day_without_dstflag_takes_the_second_hour_02_as_repeated(tmp_path):
    api_day("2024-11-03", [1, 2, 2, *range(3, 25)]).to_csv(tmp_path / "np4-745-cd.csv", index=False)
    table = read(tmp_path, FALL)

    assert len(table) == 25 and table.timestamp_utc.is_unique
    repeated = table[table.repeated_hour].iloc[0]
    assert (repeated.hour_ending, repeated.timestamp_utc, repeated.solar_forecast_mw) == (
        2,
        utc("2024-11-03 07:00"),
        102.0,
    )
    assert set(table.posted_utc) == {utc("2024-11-02 14:55")}


def test_api_dstflag_and_posting_times_with_an_offset_or_in_the_repeated_hour(tmp_path):
    raw = api_day("2024-11-03", [1, 2, 2, *range(3, 25)], DSTFlag=[False, True, False, *[False] * 22])
    raw["postedDatetime"] = ["2024-11-03T01:55:00"] * 2 + ["2024-11-02T09:55:00-05:00"] * 23
    raw.to_parquet(tmp_path / "np4-745-cd.parquet", index=False)
    table = read(tmp_path, FALL)

    by_posting = table.groupby("posted_utc").size().to_dict()
    # The repeated 1 a.m. reads as the later, standard-time instant; an explicit offset is kept.
    assert by_posting == {utc("2024-11-02 14:55"): 23, utc("2024-11-03 07:55"): 2}
    flagged = table[table.repeated_hour].iloc[0]
    assert (flagged.timestamp_utc, flagged.solar_forecast_mw) == (utc("2024-11-03 07:00"), 101.0)


# ----------------------------------------------------------------------------------------------------- bad input


def test_missing_forecast_column_lists_expected_and_found(tmp_path):
    rows = mis_rows(SOLAR_745)
    rows[0] = ["STPPF_WESTISH" if cell == "STPPF_FarWest" else cell for cell in rows[0]]
    path = write_mis(tmp_path / SOLAR_745, rows)
    message = error(tmp_path)
    assert message.startswith(f"{path}: missing column(s) ['STPPF_FarWest'] for solar power forecast STPPF by")
    assert "expected ['DELIVERY_DATE', 'HOUR_ENDING', 'STPPF_SYSTEM_WIDE', 'STPPF_CenterWest'" in message


def test_text_in_a_forecast_names_the_csv_line(tmp_path):
    rows = mis_rows(SOLAR_745)
    rows[5][rows[0].index("STPPF_SYSTEM_WIDE")] = "n/a"
    path = write_mis(tmp_path / SOLAR_745, rows)
    assert f"{path}, row 6: STPPF_SYSTEM_WIDE 'n/a' is not a number" in error(tmp_path)


def test_negative_forecast_fails_validation_naming_the_row(tmp_path):
    rows = mis_rows(SOLAR_745)
    rows[3][rows[0].index("STPPF_FarWest")] = "-40"
    path = write_mis(tmp_path / SOLAR_745, rows)
    message = error(tmp_path)
    assert f"{path}, row 4: column 'solar_forecast_farwest_mw': in_range(0.0, 200000.0), value -40.0" in message


def test_a_file_without_posting_time_is_refused(tmp_path):
    shutil.copy(FIX / SOLAR_745, tmp_path / "np4-745-cd_2024-03-10.csv")
    message = error(tmp_path)
    assert "cannot tell when this solar power forecast STPPF by geographical region (NP4-745-CD) was posted" in message


def test_an_hour_twice_in_one_posting(tmp_path):
    rows = mis_rows(WIND_742)
    rows[6][1] = "6"  # HE 07 labelled 06 (the row after HE 06)
    path = write_mis(tmp_path / WIND_742.replace("_csv.zip", ".csv"), rows)
    message = error(tmp_path)
    assert re.search(re.escape(f"{path}, row 7: hour ending 06 on 2024-03-10 for ") + r"\w+ in the posting of", message)
    assert "2024-03-09 15:55:35 UTC already appears at row 6" in message


def test_hour_ending_03_beside_02_on_the_spring_forward_day(tmp_path):
    rows = mis_rows(WIND_742)
    rows.insert(3, [*rows[2][:1], "3", *rows[2][2:]])
    path = write_mis(tmp_path / WIND_742.replace("_csv.zip", ".csv"), rows)
    assert re.search(re.escape(f"{path}, row 4: 2024-03-10 hour ending 03 does not exist"), error(tmp_path))


def test_two_models_in_use_for_one_hour(tmp_path):
    with zipfile.ZipFile(FIX / LOAD_565) as archive:
        rows = [line.split(",") for line in archive.read(archive.namelist()[0]).decode().splitlines()]
    rows[30][rows[0].index("InUseFlag")] = "Y"  # model A6, HE 04
    path = write_mis(tmp_path / LOAD_565.replace("_csv.zip", ".csv"), rows)
    message = error(tmp_path, FALL)
    assert message.startswith(f"{path}, row 31: 26 hours on 2024-11-03 for load_forecast_coast_mw in the posting of")
    assert "more than the 25 the day has (hour ending 04 again)" in message


def test_one_posting_with_different_values_in_two_files(tmp_path):
    folder(tmp_path, WIND_742)
    api = pd.read_csv(FIX / WIND_API)
    api.loc[3, "STWPFWest"] = 1500.0  # 2024-03-10 HE 05: 1561.9 in the MIS file
    api.to_csv(tmp_path / WIND_API, index=False)
    message = error(tmp_path)
    assert "conflicting duplicate rows for hour ending 05 on 2024-03-10 for wind_forecast_west_mw" in message
    assert f"{tmp_path / WIND_API}, row 5 has 1500" in message
    assert f"{tmp_path / WIND_742} (member {WIND_742.replace('_csv.zip', '.csv')}), row 5 has 1561.9" in message


def test_unreadable_posting_time(tmp_path):
    api = pd.read_csv(FIX / SOLAR_API)
    api.loc[2, "postedDatetime"] = "yesterday"
    api.to_csv(tmp_path / SOLAR_API, index=False)
    assert f"{tmp_path / SOLAR_API}, row 4: posting time 'yesterday' is not a date and time" in error(tmp_path)


# ------------------------------------------------------------------------------------------------ real API pulls


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return read(REAL, D(2024, 1, 1), D(2024, 9, 30))


@needs_real
def test_real_pulls_every_hour_of_every_day_from_the_d_minus_1_postings(real):
    hours = real.drop_duplicates("timestamp_utc")
    assert len(hours) == 6575 and real.delivery_date.nunique() == 274
    assert hours.groupby("delivery_date").size().value_counts().to_dict() == {24: 273, 23: 1}
    # Wind and solar postings are seconds apart, so mostly two rows per hour: 34 days were posted the same second.
    assert len(real) == 12_334
    assert (real.posted_utc.dt.tz_convert("America/Chicago").dt.strftime("%H:%M") == "09:55").all()
    lead = real.timestamp_utc - real.posted_utc
    assert lead.min() == pd.Timedelta("14:04:02") and lead.max() < pd.Timedelta(hours=38)


@needs_real
def test_real_spring_forward_day_lands_on_its_23_hours_in_both_files(real):
    day = real[real.delivery_date == pd.Timestamp(SPRING)]
    hours = list(pd.date_range("2024-03-10 06:00", periods=23, freq="h", tz="UTC"))
    for column in ("wind_forecast_mw", "solar_forecast_mw"):
        assert carrying(day, column).index.tolist() == hours
    wind, solar = carrying(day, "wind_forecast_mw"), carrying(day, "solar_forecast_mw")
    assert set(wind.posted_utc) == {utc("2024-03-09 15:55:35")} and set(solar.posted_utc) == {
        utc("2024-03-09 15:55:36")
    }
    # The wind file labels 07:00 UTC HE 2, the solar file HE 3; both read as HE 2.
    assert wind.loc[utc("2024-03-10 07:00"), ["hour_ending", "wind_forecast_mw"]].tolist() == [2, 5368.6]
    assert solar.loc[utc("2024-03-10 07:00"), "hour_ending"] == 2
    assert solar.loc[utc("2024-03-10 13:00"), "solar_forecast_mw"] == 2424.5  # HE 9, 08:00 CDT


@needs_real
def test_real_posting_times_in_standard_and_daylight_time(real):
    posted = real.groupby(["delivery_date", real.wind_forecast_mw.notna()]).posted_utc.first()
    assert posted[(pd.Timestamp("2024-03-10"), False)] == utc("2024-03-09 15:55:36")  # solar, 09:55:36 CST
    assert posted[(pd.Timestamp("2024-03-17"), True)] == utc("2024-03-16 14:55:39")  # wind, 09:55:39 CDT


@needs_real
def test_real_pulls_match_the_shared_tidy_table(real):
    tidy = pd.read_csv(REAL / "ercot_hubs_2024-01_2024-09_forecasts.csv", parse_dates=["timestamp_utc"])
    tidy = tidy[tidy.settlement_point == "HB_WEST"].set_index("timestamp_utc")
    columns = ["wind_forecast_mw", "solar_forecast_mw", "wind_forecast_west_mw", "solar_forecast_farwest_mw"]
    for column in columns:
        ours = carrying(real, column)[column].reindex(tidy.index)
        assert (ours - tidy[column]).abs().max() < 1e-9, column
    latest = real.groupby("timestamp_utc").posted_utc.max().reindex(tidy.index)
    assert (latest == pd.to_datetime(tidy.forecast_posted_utc, utc=True)).all()

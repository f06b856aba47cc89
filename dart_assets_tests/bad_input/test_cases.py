"""Bad input at every door, one table: each case is an input, the reader it enters through, and the one clear error
it must raise (naming the file, the line or row, and the problem), or, for input that is merely unusual, the values
it must be read as.

"One clear error" means: the project's own error type (MarketDataError for market data, TransformerDataError for
the sensor export, SettingsError for configuration), the file (or variable) and the problem in its message, and no
library exception chained behind it. The CLI tests (test_cli.py) run a subset through `dagster asset materialize`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from dart_assets.market import ercot, quality, table
from dart_assets.market.schemas import MarketDataError
from dart_assets.settings import SettingsError, load_settings
from dart_assets.transformer.history import TransformerDataError, read_sensor_csv
from dart_assets_tests.bad_input import inputs as bad
from dart_assets_tests.bad_input.inputs import DAM_CSV, DAY, POINTS, dam_rows, with_cell
from dart_assets_tests.market import fixtures as fx

D = dt.date
RANGE = (D(2024, 1, 1), D(2024, 12, 31))
FORECASTS = fx.FORECAST_FIXTURES
SOLAR_MIS = "cdr.00021809.0000000000000000.20240309.095536000.PVGRHRLYAVGACTGEONP4745.csv"
SOLAR_API = "np4-745-cd_api_2024-03-10_2024-03-17.csv"


@dataclass(frozen=True)
class Case:
    kind: str  # what is wrong with the input
    where: str  # the door it comes in through
    write: Callable[[Path], Path]  # writes the input under a folder, returns the file the message must name
    read: Callable[[Path], object]  # reads it as the source does (gets the written file)
    expect: str | None  # regex the one error must match; None: the input is accepted and `check` holds
    error: type[Exception] = MarketDataError
    check: Callable[[object, Path], None] | None = None


# ---------------------------------------------------------------------------------------------------- doors


def folder_of(path: Path) -> Path:
    """The ERCOT readers take the folder the written file is in."""
    return path if path.is_dir() else path.parent


def dam(path: Path):
    return ercot.read_dam(folder_of(path), *RANGE, POINTS)


def rtm(path: Path):
    return ercot.read_rtm(folder_of(path), *RANGE, POINTS)


def forecasts(path: Path):
    return ercot.read_forecasts(folder_of(path), D(2024, 3, 10), D(2024, 3, 10))


def tidy(path: Path):
    return table.read_table(path, *RANGE, POINTS)


def sensor(path: Path):
    return read_sensor_csv(path)


DAM_DOOR = "ercot source, NP4-190-CD daily CSV (ercot.read_dam)"
DAM_ZIP = "ercot source, NP4-190-CD zipped CSV (ercot.read_dam)"
DAM_BOOK = "ercot source, NP4-180-ER workbook (ercot.read_dam)"
RTM_DOOR = "ercot source, NP6-905-CD daily CSV (ercot.read_rtm)"
FORECAST_DOOR = "ercot source, forecast reports (ercot.read_forecasts)"
TABLE_DOOR = "table source (table.read_table)"
SENSOR_DOOR = "transformer sensor export (history.read_sensor_csv)"


# ------------------------------------------------------------------------------------------------ writers


def dam_with(rows: bad.Rows, header: tuple = fx.DAM_CSV_HEADER) -> Callable[[Path], Path]:
    return lambda folder: bad.dam_csv(folder, rows, header)


def dam_bytes(data: bytes) -> Callable[[Path], Path]:
    return lambda folder: bad.write_bytes(folder, DAM_CSV, data)


def dam_zip(data: str | bytes) -> Callable[[Path], Path]:
    return lambda folder: bad.zipped(folder, DAM_CSV, data)


def damaged_zip(folder: Path) -> Path:
    return bad.damaged_member(bad.zipped(folder, DAM_CSV, bad.dam_text(dam_rows())))


def truncated_zip(folder: Path) -> Path:
    return bad.truncated(bad.zipped(folder, DAM_CSV, bad.dam_text(dam_rows())))


def zip_without_report(folder: Path) -> Path:
    return bad.zipped(folder, "readme.txt", "ERCOT report", name="DAMSPNP4190_csv.zip")


def truncated_workbook(folder: Path) -> Path:
    return bad.truncated(fx.dam_workbook(folder / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([DAY])))


def titled_workbook(folder: Path) -> Path:
    """A report saved with a title line and a blank line above the header."""
    path = folder / "DAMLZHBSPP_2024.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Jan"
    sheet.append(["DAM Settlement Point Prices, January 2024"])
    sheet.append([])
    sheet.append(list(fx.DAM_HEADER))
    for row in fx.dam_rows([DAY]):
        sheet.append(list(row))
    folder.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def without_hour(rows: bad.Rows, hour: int, point: str) -> bad.Rows:
    return [r for r in rows if not (r[1] == f"{hour:02d}:00" and r[2] == point)]


def fall_back_without_flag() -> bad.Rows:
    return [(*r[:4], "N") for r in dam_rows(fx.FALL_BACK)]


def rtm_with(edit: Callable[[bad.Rows], bad.Rows]) -> Callable[[Path], Path]:
    return lambda folder: bad.rtm_csv(folder, edit(fx.rtm_csv_rows([DAY], ["HB_NORTH", "LZ_HOUSTON"])))


def solar_mis(edit: Callable[[list[list[str]]], list[list[str]]], name: str = SOLAR_MIS) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        rows = [line.split(",") for line in (FORECASTS / SOLAR_MIS).read_text().splitlines()]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("\r\n".join(",".join(r) for r in edit(rows)) + "\r\n")
        return folder / name

    return write


def solar_cell(row: int, header: str, value: str) -> Callable[[list[list[str]]], list[list[str]]]:
    def edit(rows: list[list[str]]) -> list[list[str]]:
        rows[row][rows[0].index(header)] = value
        return rows

    return edit


def solar_api(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        edit(pd.read_csv(FORECASTS / SOLAR_API)).to_csv(folder / SOLAR_API, index=False)
        return folder / SOLAR_API

    return write


def tidy_with(edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> Callable[[Path], Path]:
    return lambda folder: bad.tidy_csv(folder / "tidy.csv", edit=edit)


def tidy_bytes(data: bytes, name: str = "tidy.csv") -> Callable[[Path], Path]:
    return lambda folder: bad.write_bytes(folder, name, data)


def cell(row: int, column: str, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return edit


def sensor_csv(kw: list[str]) -> Callable[[Path], Path]:
    """A sensor export of consecutive hours from 2025-03-01 00:00 with these kW cells."""

    def write(folder: Path) -> Path:
        stamps = pd.date_range("2025-03-01 00:00", periods=len(kw), freq="h").strftime("%Y-%m-%d %H:%M")
        lines = ["timestamp,kw", *(f"{t},{v}" for t, v in zip(stamps, kw, strict=True))]
        return bad.write_bytes(folder, "load.csv", ("\n".join(lines) + "\n").encode())

    return write


# ------------------------------------------------------------------------------------------ accepted inputs


def prices_as_encoded(result, _path: Path) -> None:
    """Every hour of DAY for both points, each price the value the fixture encodes for its key."""
    assert len(result) == 48
    expected = [
        fx.dam_price(DAY, h, False, p) for h, p in zip(result.hour_ending, result.settlement_point, strict=True)
    ]
    assert result.dam_price.tolist() == expected
    assert result.timestamp_utc.min() == pd.Timestamp("2024-01-02 06:00", tz="UTC")


def spring_forward_has_23_hours(result, _path: Path) -> None:
    north = result[result.settlement_point == "HB_NORTH"]
    assert len(north) == 23 and 3 not in set(north.hour_ending)
    stamps = north.timestamp_utc.sort_values()
    assert stamps.iloc[0] == pd.Timestamp("2024-03-10 06:00", tz="UTC")  # HE 01 = 00:00 CST
    assert stamps.iloc[-1] == pd.Timestamp("2024-03-11 04:00", tz="UTC")  # HE 24 = 23:00 CDT
    assert (stamps.diff().dropna() == pd.Timedelta(hours=1)).all()  # HE 02 -> HE 04 is one real hour
    assert north[north.hour_ending == 4].dam_price.item() == fx.dam_price(fx.SPRING_FORWARD, 4, False, "HB_NORTH")


def hours_check_names_the_day(result, _path: Path) -> None:
    """The reader keeps the gap (gaps are data); the no_missing_days check fails naming the partial day."""
    assert len(result) == 47
    checks = {r.check: r for r in quality.evaluate("dam_prices", result, pd.Timestamp(DAY), pd.Timestamp(DAY))}
    assert checks["hours_per_day"].passed  # fewer hours than the clock are a gap, not a mislabelled day
    assert not checks["no_missing_days"].passed
    assert "HB_NORTH: partial: 2024-01-02 (23 of 24 h)" in checks["no_missing_days"].description


def tidy_as_encoded(result, _path: Path) -> None:
    dam = result["dam_prices"]
    assert len(dam) == 48 and result["rtm_prices"].rtm_price.tolist() == (dam.dam_price + 4.0).tolist()
    loads = result["system_conditions"].load_mw
    assert loads.iloc[0] == fx.ercot_load(DAY, 1, False) + 5.0  # mean over HB_NORTH (+0) and LZ_HOUSTON (+10)


def sensor_values(result, _path: Path) -> None:
    assert result.kw.tolist() == [50.5, 51.0, 49.25]
    assert result.timestamp.iloc[0] == pd.Timestamp("2025-03-01 00:00")


def bom_crlf(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


# --------------------------------------------------------------------------------------------------- the table

ROWS = dam_rows()  # HE h, point p at index 2 * (h - 1) + (p == LZ_HOUSTON): CSV line index + 2
CASES = [
    # empty, header only, truncated, damaged, not text
    Case("empty file", DAM_DOOR, dam_bytes(b""), dam, r": empty file \(no header, no rows\)"),
    Case("empty file in a zip", DAM_ZIP, dam_zip(""), dam, r"\(member DAMSPNP4190\.csv\): empty file"),
    Case("header only", DAM_DOOR, dam_with([]), dam, r": no rows below the header"),
    Case("truncated zip", DAM_ZIP, truncated_zip, dam, r": not a readable zip archive"),
    Case("damaged zip member", DAM_ZIP, damaged_zip, dam, r"\(member DAMSPNP4190\.csv\): cannot be extracted"),
    Case("zip without a report", DAM_ZIP, zip_without_report, dam, r"holds no \.csv/\.parquet/\.xlsx file"),
    Case("truncated xlsx", DAM_BOOK, truncated_workbook, dam, r": not a readable Excel workbook"),
    Case("UTF-16 export", DAM_DOOR, dam_bytes(bad.dam_text(ROWS).encode("utf-16")), dam, r": UTF-16 text"),
    Case(
        "Latin-1 byte in a UTF-8 file",
        DAM_DOOR,
        dam_bytes(bad.dam_text(with_cell(ROWS, 5, "SettlementPoint", "HB_NORTH\u00e9")).encode("latin-1")),
        dam,
        r", line 7: byte 0xe9 is not UTF-8 text",
    ),
    Case("binary data", DAM_DOOR, dam_bytes(b"\x00\x01\x02PK\x00" * 40), dam, r": binary data, not CSV text"),
    Case(
        "ragged row",
        DAM_DOOR,
        dam_bytes(bad.dam_text(ROWS).replace("HB_NORTH,23.0", "HB_NORTH,23.0,oops,1", 1).encode()),
        dam,
        r", row 6: 7 cells where the header has 5",
    ),
    Case(
        "quote never closed (file cut inside a quoted cell)",
        DAM_DOOR,
        dam_bytes((bad.dam_text(ROWS) + '01/02/2024,"24:00,HB_NORTH').encode()),
        dam,
        r", line 50: a quoted cell is never closed",
    ),
    # columns and types
    Case(
        "column twice in the header",
        DAM_DOOR,
        dam_with([(*r, r[3]) for r in ROWS], (*fx.DAM_CSV_HEADER, "SettlementPointPrice")),
        dam,
        r", row 1: column\(s\) \['SettlementPointPrice'\] appear more than once in the header",
    ),
    Case(
        "missing column",
        DAM_DOOR,
        dam_with([r[:3] + r[4:] for r in ROWS], fx.DAM_CSV_HEADER[:3] + fx.DAM_CSV_HEADER[4:]),
        dam,
        r": missing column\(s\) \['Settlement Point Price'\]",
    ),
    Case(
        "renamed column",
        DAM_DOOR,
        dam_with(ROWS, (*fx.DAM_CSV_HEADER[:3], "Price", "DSTFlag")),
        dam,
        r"missing column\(s\) \['Settlement Point Price'\].*found \[.*'Price', 'DSTFlag'\]",
    ),
    Case(
        "wrong type: hour ending as text",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 4, "HourEnding", "three")),
        dam,
        r", row 6: hour ending 'three' is not a whole number",
    ),
    Case(
        "wrong type: repeated-hour flag",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 4, "DSTFlag", "maybe")),
        dam,
        r", row 6: repeated hour flag 'maybe' is not Y or N",
    ),
    Case(
        "text in a price",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 3, "SettlementPointPrice", "n/a")),
        dam,
        r", row 5: settlement point price 'n/a' is not a number",
    ),
    Case(
        "blank price",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 3, "SettlementPointPrice", "")),
        dam,
        r", row 5: missing settlement point price",
    ),
    # prices beyond ERCOT's limits (NaN/inf among them)
    Case(
        "price above the offer cap",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 3, "SettlementPointPrice", 12_000.0)),
        dam,
        r", row 5: dam_price at or below the offer cap .*, value 12000\.0",
    ),
    Case(
        "price below the offer floor",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 3, "SettlementPointPrice", -1_500.0)),
        dam,
        r", row 5: column 'dam_price': dam_price below floor -250\.0 minus headroom, value -1500\.0",
    ),
    Case(
        "infinite price",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 3, "SettlementPointPrice", "inf")),
        dam,
        r", row 5: dam_price at or below the offer cap .*, value inf",
    ),
    # hours and the DST clock
    Case(
        "duplicate hour",
        DAM_DOOR,
        dam_with([*ROWS[:4], ROWS[2], *ROWS[5:]]),  # HB_NORTH HE 02 again where HE 03 was
        dam,
        r", row 6: hour ending 02 on 2024-01-02 for HB_NORTH already appears at row 4",
    ),
    Case(
        "25 hours on a normal day",
        DAM_DOOR,
        dam_with([*ROWS[:5], ROWS[4], *ROWS[5:]]),
        dam,
        r", row 7: 25 hours on 2024-01-02 for HB_NORTH, more than the 24 the day has \(hour ending 03 again\)",
    ),
    Case(
        "repeated-hour flag on a normal day",
        DAM_DOOR,
        dam_with([*ROWS[:4], (*ROWS[2][:4], "Y"), *ROWS[4:]]),
        dam,
        r", row 6: repeated-hour flag on 2024-01-02 hour ending 02, which is not repeated",
    ),
    Case(
        "23 hours on a normal day",
        DAM_DOOR,
        dam_with(without_hour(ROWS, 10, "HB_NORTH")),
        dam,
        None,
        check=hours_check_names_the_day,
    ),
    Case(
        "hour ending 00:00",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 0, "HourEnding", "00:00")),
        dam,
        r", row 2: hour ending 0 is outside 01\.\.24",
    ),
    Case(
        "hour ending 25:00",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 47, "HourEnding", "25:00")),
        dam,
        r", row 49: hour ending 25 is outside 01\.\.24",
    ),
    Case(
        "spring-forward day without HE 03 (ERCOT's labels)",
        DAM_DOOR,
        dam_with(dam_rows(fx.SPRING_FORWARD)),
        dam,
        None,
        check=spring_forward_has_23_hours,
    ),
    Case(
        "HE 03 on the spring-forward day",
        DAM_DOOR,
        dam_with([*dam_rows(fx.SPRING_FORWARD, ["HB_NORTH"])[:2], ("03/10/2024", "03:00", "HB_NORTH", 33.0, "N")]),
        dam,
        r", row 4: 2024-03-10 hour ending 03 does not exist in Central time",
    ),
    Case(
        "repeated fall-back hour without its flag",
        DAM_DOOR,
        dam_with(fall_back_without_flag()),
        dam,
        r", row 6: hour ending 02 on 2024-11-03 for HB_NORTH already appears at row 4; on the fall-back day the "
        r"second hour ending 02 must carry the repeated-hour flag",
    ),
    # settlement points and dates
    Case(
        "only other settlement points",
        DAM_DOOR,
        # Points are looked for across all of the folder's reports, so the message names the folder.
        lambda folder: bad.dam_csv(folder, dam_rows(DAY, ["HB_WEST"])).parent,
        dam,
        r"settlement point\(s\) \['HB_NORTH', 'LZ_HOUSTON'\] not found for delivery dates 2024-01-01\.\.2024-12-31; "
        r"available: \['HB_WEST'\]",
    ),
    Case(
        "impossible date 02/30/2024",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 6, "DeliveryDate", "02/30/2024")),
        dam,
        r", row 8: unparseable delivery date '02/30/2024' \(expected MM/DD/YYYY\)",
    ),
    Case(
        "mixed date formats",
        DAM_DOOR,
        dam_with(with_cell(ROWS, 6, "DeliveryDate", "02-01-2024")),  # day-first with dashes among MM/DD/YYYY
        dam,
        r", row 8: unparseable delivery date '02-01-2024' \(expected MM/DD/YYYY\)",
    ),
    # layout and encoding
    Case(
        "wrong sheet layout",
        DAM_BOOK,
        titled_workbook,
        dam,
        r", sheet 'Jan': missing column\(s\) .*found \['DAM Settlement Point Prices, January 2024'",
    ),
    Case(
        "UTF-8 BOM and Windows line endings (accepted)",
        DAM_DOOR,
        dam_bytes(bom_crlf(bad.dam_text(ROWS))),
        dam,
        None,
        check=prices_as_encoded,
    ),
    Case(
        "Unix line endings, no BOM (accepted)",
        DAM_DOOR,
        dam_bytes(bad.dam_text(ROWS).replace("\r\n", "\n").encode()),
        dam,
        None,
        check=prices_as_encoded,
    ),
    # real-time prices
    Case(
        "RTM hour missing an interval",
        RTM_DOOR,
        rtm_with(lambda rows: [r for r in rows if not (r[1] == 7 and r[2] == 3 and r[3] == "HB_NORTH")]),
        rtm,
        r", row \d+: hour ending 07 on 2024-01-02 for HB_NORTH has 3 of 4 15-minute intervals",
    ),
    Case(
        "RTM delivery interval 5",
        RTM_DOOR,
        rtm_with(lambda rows: [*rows[:3], (*rows[3][:2], 5, *rows[3][3:]), *rows[4:]]),
        rtm,
        r", row 5: delivery interval '5' is outside 1\.\.4",
    ),
    # driver forecast reports
    Case(
        "forecast report with a bad posting time",
        FORECAST_DOOR,
        solar_api(cell(2, "postedDatetime", "yesterday")),
        forecasts,
        r", row 4: posting time 'yesterday' is not a date and time",
    ),
    Case(
        "forecast file name with an impossible posting stamp",
        FORECAST_DOOR,
        solar_mis(lambda rows: rows, SOLAR_MIS.replace("20240309.095536000", "20240230.095536000")),
        forecasts,
        r": posting stamp 20240230\.095536 in the file name is not a date and time",
    ),
    Case(
        "forecast report without a posting time",
        FORECAST_DOOR,
        solar_mis(lambda rows: rows, "np4-745-cd_2024-03-10.csv"),
        forecasts,
        r": cannot tell when this solar power forecast STPPF by geographical region \(NP4-745-CD\) was posted",
    ),
    Case("forecast report: empty file", FORECAST_DOOR, solar_mis(lambda rows: []), forecasts, r": empty file"),
    Case(
        "forecast report: infinite forecast (feature input)",
        FORECAST_DOOR,
        solar_mis(solar_cell(4, "STPPF_SYSTEM_WIDE", "inf")),
        forecasts,
        r", row 5: column 'solar_forecast_mw': in_range\(0\.0, 200000\.0\), value inf",
    ),
    # the tidy table
    Case("table: empty file", TABLE_DOOR, tidy_bytes(b""), tidy, r": empty file"),
    Case(
        "table: header only",
        TABLE_DOOR,
        tidy_bytes(b"timestamp_utc,settlement_point,dam_price,rtm_price\r\n"),
        tidy,
        r": no rows below the header",
    ),
    Case(
        "table: typo in a column name",
        TABLE_DOOR,
        tidy_with(lambda f: f.rename(columns={"dam_price": "dam_prise"})),
        tidy,
        r": missing column\(s\) \['dam_price'\]; unexpected column\(s\) \['dam_prise'\]",
    ),
    Case(
        "table: mixed timestamp formats",
        TABLE_DOOR,
        tidy_with(cell(3, "timestamp_utc", "01/02/2024 07:00")),
        tidy,
        r", row 5: unparseable timestamp_utc '01/02/2024 07:00' \(expected ISO 8601",
    ),
    Case(
        "table: duplicate hour",
        TABLE_DOOR,
        tidy_with(cell(1, "timestamp_utc", "2024-01-02T06:00:00Z")),
        tidy,
        r", row 3: duplicate of row 2 \(HB_NORTH at 2024-01-02 06:00 UTC\)",
    ),
    Case(
        "table: NaN in a price (feature input)",
        TABLE_DOOR,
        tidy_with(cell(4, "dam_price", "NaN")),
        tidy,
        r", row 6: dam_price 'NaN' is not a number",
    ),
    Case(
        "table: inf in a driver (feature input)",
        TABLE_DOOR,
        tidy_with(cell(3, "load_mw", "inf")),
        tidy,
        r"system_conditions failed validation .*\n  row 5: column 'load_mw': in_range\(0\.0, 200000\.0\), value inf",
    ),
    Case(
        "table: -inf price (feature input)",
        TABLE_DOOR,
        tidy_with(cell(4, "rtm_price", "-inf")),
        tidy,
        r"rtm_prices failed validation .*\n  row 6: column 'rtm_price': rtm_price below floor .*, value -inf",
    ),
    Case(
        "table: forecasts without a posting time",
        TABLE_DOOR,
        tidy_with(lambda f: f.assign(wind_forecast_mw=1000.0)),
        tidy,
        r": forecast column\(s\) \['wind_forecast_mw'\] need a forecast_posted_utc column",
    ),
    Case(
        "table: only other settlement points",
        TABLE_DOOR,
        tidy_with(lambda f: f.assign(settlement_point=f.settlement_point.str.replace("HB_NORTH", "HB_WEST"))),
        tidy,
        r": settlement point\(s\) \['HB_NORTH'\] not found in any row; available: \['HB_WEST', 'LZ_HOUSTON'\]",
    ),
    Case(
        "table: not a Parquet file",
        TABLE_DOOR,
        tidy_bytes(b"PAR1 this is a CSV renamed", "tidy.parquet"),
        tidy,
        r": not a readable Parquet file",
    ),
    Case(
        "table: UTF-8 BOM and Windows line endings (accepted)",
        TABLE_DOOR,
        lambda folder: bad.write_bytes(folder, "tidy.csv", bom_crlf(bad.tidy_csv(folder / "plain.csv").read_text())),
        tidy,
        None,
        check=tidy_as_encoded,
    ),
    # the transformer's sensor export
    Case(
        "sensor: negative kW",
        SENSOR_DOOR,
        sensor_csv(["50.5", "-3", "49.25"]),
        sensor,
        r", row 3: kw -3\.0 is negative",
        TransformerDataError,
    ),
    Case(
        "sensor: missing kW",
        SENSOR_DOOR,
        sensor_csv(["50.5", "", "49.25"]),
        sensor,
        r", row 3: kw '' is not a number",
        TransformerDataError,
    ),
    Case(
        "sensor: non-numeric kW",
        SENSOR_DOOR,
        sensor_csv(["50.5", "51 kW", "49.25"]),
        sensor,
        r", row 3: kw '51 kW' is not a number",
        TransformerDataError,
    ),
    Case(
        "sensor: infinite kW",
        SENSOR_DOOR,
        sensor_csv(["50.5", "inf", "49.25"]),
        sensor,
        r", row 3: kw 'inf' is not a number",
        TransformerDataError,
    ),
    Case(
        "sensor: empty file",
        SENSOR_DOOR,
        lambda f: bad.write_bytes(f, "load.csv", b""),
        sensor,
        r": empty file",
        TransformerDataError,
    ),
    Case(
        "sensor: UTF-8 BOM and Windows line endings (accepted)",
        SENSOR_DOOR,
        lambda folder: bad.write_bytes(
            folder,
            "load.csv",
            bom_crlf("timestamp,kw\n2025-03-01 00:00,50.5\n2025-03-01 01:00,51\n2025-03-01 02:00,49.25\n"),
        ),
        sensor,
        None,
        check=sensor_values,
    ),
]


def single_error(exc: BaseException) -> bool:
    """Raised on its own: no library exception chained behind it (raise ... from None, or nothing caught)."""
    return exc.__cause__ is None and (exc.__suppress_context__ or exc.__context__ is None)


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input_gets_one_clear_error_naming_the_file(tmp_path, case):
    path = case.write(tmp_path / "input")
    if case.expect is None:
        case.check(case.read(path), path)
        return
    with pytest.raises(Exception) as caught:  # noqa: PT011 -- the exact type is asserted below, with the message
        case.read(path)
    message = str(caught.value)
    assert type(caught.value) is case.error, f"{case.where}: {type(caught.value).__name__}: {message}"
    assert str(path) in message, message
    assert re.search(case.expect, message, re.DOTALL), message
    assert single_error(caught.value)


def test_the_table_covers_the_kinds_the_issue_lists():
    assert len({c.kind for c in CASES}) == len(CASES) >= 25
    assert {c.where for c in CASES} >= {DAM_DOOR, DAM_ZIP, DAM_BOOK, RTM_DOOR, FORECAST_DOOR, TABLE_DOOR, SENSOR_DOOR}


# ---------------------------------------------------------------------------- configuration and the training split


@pytest.mark.parametrize(
    ("variables", "expect"),
    [
        (
            {"DART_DATA_SOURCE": "ercott"},
            r"DART_DATA_SOURCE='ercott' is not valid; use one of: synthetic, ercot\b",
        ),
        ({"DART_START_DATE": "2024-02-30"}, r"DART_START_DATE='2024-02-30' is not a date; use YYYY-MM-DD"),
        ({"DART_START_DATE": "01/02/2024"}, r"DART_START_DATE='01/02/2024' is not a date; use YYYY-MM-DD"),
        ({"DART_START_DATE": "2999-01-01"}, r"DART_START_DATE=2999-01-01 is outside 2010-01-01\.\.today"),
        ({"DART_DATA_SOURCE": "table"}, r"DART_DATA_SOURCE=table needs DART_DATA_PATH"),
        (
            {"DART_DATA_SOURCE": "ercot", "DART_DATA_PATH": "/no/such/folder"},
            r"DART_DATA_PATH='/no/such/folder' does not exist",
        ),
        (
            {"DART_SETTLEMENT_POINTS": "HB_NORTH,hb_north"},
            r"DART_SETTLEMENT_POINTS='HB_NORTH,hb_north' lists a settlement point twice",
        ),
        ({"DART_GATE_MIN_SKILL": "2%"}, r"DART_GATE_MIN_SKILL='2%' is not a number"),
    ],
    ids=[
        "unknown source",
        "impossible date",
        "day-first date",
        "start after today",
        "table without path",
        "missing path",
        "point twice",
        "number with unit",
    ],
)
def test_configuration_typos_name_the_variable(dart_env, variables, expect):
    for name, value in variables.items():
        dart_env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert re.search(expect, str(caught.value)), str(caught.value)
    assert single_error(caught.value)


REVERSED = (D(2024, 2, 1), D(2024, 1, 1))


@pytest.mark.parametrize(
    "read",
    [
        lambda folder: ercot.read_dam(bad.good_prices(folder, [DAY]), *REVERSED, POINTS),
        lambda folder: ercot.read_forecasts(folder, *REVERSED),
        lambda folder: table.read_table(bad.tidy_csv(folder / "tidy.csv"), *REVERSED, POINTS),
    ],
    ids=["ercot", "forecast reports", "table"],
)
def test_a_reversed_date_range_is_refused_not_read_as_a_gap(tmp_path, read):
    with pytest.raises(ValueError, match=r"delivery dates 2024-02-01\.\.2024-01-01: the first day is after the last"):
        read(tmp_path)


def test_a_feature_table_too_short_for_the_split(tmp_path):
    from dart_assets.ml.training import train_model

    hours = pd.date_range("2024-01-02 06:00", periods=5, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {"timestamp_utc": hours, "settlement_point": "HB_NORTH", "hour_ending": np.arange(1, 6), "dart": 1.0}
    )
    with pytest.raises(ValueError, match=r"^5 timestamps are too few to split by \(0\.8, 0\.1, 0\.1\)$") as caught:
        train_model("lgbm", frame, ["hour_ending"], tmp_path)
    assert single_error(caught.value)
    assert not any(tmp_path.iterdir())  # nothing written: no half bundle, no plot


# ------------------------------------------------------------------------------ ERCOT's answers (ercot_api source)

API_DAY = D(2024, 3, 7)
HUBS = ["HB_HOUSTON", "HB_NORTH", "HB_WEST"]


def north_he02(rows: pd.DataFrame) -> pd.Series:
    return (rows["SettlementPoint"] == "HB_NORTH") & (rows["HourEnding"] == "02:00")


def answer_with(column: str, value) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.astype({column: object})
        rows.loc[north_he02(rows), column] = value
        return rows

    return edit


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        (
            answer_with("SettlementPointPrice", "abc"),
            r"NP4-190-CD SettlementPointPrice for HB_NORTH in the interval starting 2024-03-07 01:00 CST 'abc' is "
            r"not a number",
        ),
        (
            answer_with("SettlementPointPrice", float("nan")),
            r"NP4-190-CD SettlementPointPrice for HB_NORTH in the interval starting 2024-03-07 01:00 CST is missing",
        ),
        (
            answer_with("SettlementPointPrice", 99_999.0),
            r"dam_prices failed validation .*\n  NP4-190-CD 2024-03-07 hour ending 02 HB_NORTH: dam_price at or below "
            r"the offer cap .*, value 99999\.0",
        ),
        (
            answer_with("DeliveryDate", "02/30/2024"),
            r"NP4-190-CD \(DAM settlement point prices\) for delivery day\(s\) 2024-03-07: ERCOT's answer could not be "
            r"read \(ValueError: day is out of range for month",
        ),
        (
            answer_with("DSTFlag", "maybe"),  # gridstatus asserts Y/N without a message: the message quotes its check
            r"NP4-190-CD \(DAM settlement point prices\) for delivery day\(s\) 2024-03-07: ERCOT's answer could not be "
            r"read \(AssertionError '.*DSTFlag.*'",
        ),
    ],
    ids=["text in a price", "missing price", "price above the cap", "impossible date", "bad DST flag"],
)
def test_a_bad_answer_from_ercot_names_the_report_and_the_day(tmp_path, edit, expect):
    from dart_assets.market.ercot_api import ApiCredentials, ErcotApiSource, RetryPolicy
    from dart_assets_tests.market import ercot_fake

    hubs = ercot_fake.hubs_2024()
    (posting,) = ercot_fake.dam_postings(hubs[hubs.delivery_date == pd.Timestamp(API_DAY)])
    fake = ercot_fake.FakeErcot(
        [ercot_fake.Posting(posting.report, posting.posted, edit(posting.rows.copy()), posting.friendly)],
        now=pd.Timestamp("2024-10-01T17:00Z"),  # history: read through the public API's archive
    )
    source = ErcotApiSource(
        tmp_path,
        ApiCredentials(fake.username, fake.password, fake.key),
        transport=fake,
        clock=lambda: fake.now,
        retry=RetryPolicy(base_delay=0.0),
    )
    with pytest.raises(MarketDataError) as caught:
        source.read(API_DAY, API_DAY, HUBS, tables=["dam_prices"])
    assert re.search(expect, str(caught.value), re.DOTALL), str(caught.value)
    assert single_error(caught.value)

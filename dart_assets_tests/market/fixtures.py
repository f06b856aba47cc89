"""Write small ERCOT report files into a test folder, in the layouts ERCOT and its mirrors really use.

Prices encode their own key (see dam_price), so a test can compute any expected value by hand. Row generators
return plain tuples, so a test can break one row before writing and knows the row number the user would see
(workbook: list index + 2, the header being row 1; CSV: the same, counting lines).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import openpyxl
import pandas as pd

from dart_assets.market import timeutil

DAM_HEADER = ("Delivery Date", "Hour Ending", "Repeated Hour Flag", "Settlement Point", "Settlement Point Price")
RTM_HEADER = (
    "Delivery Date",
    "Delivery Hour",
    "Delivery Interval",
    "Repeated Hour Flag",
    "Settlement Point Name",
    "Settlement Point Type",
    "Settlement Point Price",
)
DAM_CSV_HEADER = ("DeliveryDate", "HourEnding", "SettlementPoint", "SettlementPointPrice", "DSTFlag")
RTM_CSV_HEADER = (
    "DeliveryDate",
    "DeliveryHour",
    "DeliveryInterval",
    "SettlementPointName",
    "SettlementPointType",
    "SettlementPointPrice",
    "DSTFlag",
)
LOAD_HEADER = ("Hour Ending", "COAST", "EAST", "FWEST", "NORTH", "NCENT", "SOUTH", "SCENT", "WEST", "ERCOT")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

POINTS = ("HB_NORTH", "LZ_HOUSTON")
# RTM rows per point; the first type is the one the reader must keep, the second is priced 50 higher.
RTM_TYPES = {"HB_NORTH": ("HU", "SH"), "LZ_HOUSTON": ("LZ", "LZEW"), "HB_BUSAVG": ("SH",)}
# RTM interval price = DAM price + offset, so every hourly mean is the DAM price + 4.0.
INTERVAL_OFFSETS = (1.0, 2.0, 4.0, 9.0)

NORMAL_DAY = dt.date(2024, 1, 2)
SPRING_FORWARD = dt.date(2024, 3, 10)
FALL_BACK = dt.date(2024, 11, 3)


def ercot_hours(day: dt.date) -> list[tuple[int, bool]]:
    """(hour ending, repeated) in ERCOT's order: no HE03 on the spring-forward day, HE02 twice on fall-back."""
    count = timeutil.hours_in_day(day)
    hours = [(h, False) for h in range(1, 25) if not (count == 23 and h == 3)]
    if count == 25:
        hours.insert(2, (2, True))
    return hours


def dam_price(day: dt.date, hour: int, repeated: bool, point: str) -> float:
    """10 x day of month + hour ending, +0.5 on the repeated hour, +100 for load zones."""
    return day.day * 10 + hour + (0.5 if repeated else 0.0) + (100.0 if point.startswith("LZ") else 0.0)


def dam_rows(days: Iterable[dt.date], points: Iterable[str] = POINTS) -> list[tuple]:
    """NP4-180-ER workbook rows: MM/DD/YYYY, "HH:00", N/Y, point, price."""
    return [
        (f"{day:%m/%d/%Y}", f"{hour:02d}:00", "Y" if rep else "N", point, dam_price(day, hour, rep, point))
        for day in days
        for hour, rep in ercot_hours(day)
        for point in points
    ]


def rtm_rows(days: Iterable[dt.date], points: Iterable[str] = POINTS) -> list[tuple]:
    """NP6-785-ER workbook rows: date text, hour and interval as floats (as the real file stores them), flag,
    point, type, price; every point in each of its RTM_TYPES."""
    return [
        (
            f"{day:%m/%d/%Y}",
            float(hour),
            float(interval),
            "Y" if rep else "N",
            point,
            kind,
            dam_price(day, hour, rep, point) + offset + 50.0 * rank,
        )
        for day in days
        for hour, rep in ercot_hours(day)
        for point in points
        for rank, kind in enumerate(RTM_TYPES[point])
        for interval, offset in enumerate(INTERVAL_OFFSETS, start=1)
    ]


def dam_csv_rows(days: Iterable[dt.date], points: Iterable[str] = POINTS) -> list[tuple]:
    """NP4-190-CD rows: DeliveryDate, HourEnding, SettlementPoint, SettlementPointPrice, DSTFlag."""
    return [(d, h, p, price, flag) for d, h, flag, p, price in dam_rows(days, points)]


def rtm_csv_rows(days: Iterable[dt.date], points: Iterable[str] = POINTS) -> list[tuple]:
    """NP6-905-CD rows: DeliveryDate, DeliveryHour, DeliveryInterval, Name, Type, Price, DSTFlag."""
    return [(d, int(h), int(i), p, t, price, flag) for d, h, i, flag, p, t, price in rtm_rows(days, points)]


def ercot_load(day: dt.date, hour: int, repeated: bool) -> float:
    """40,000 MW + 100 x day of month + hour ending, +0.5 on the repeated hour."""
    return 40_000.0 + day.day * 100 + hour + (0.5 if repeated else 0.0)


def load_rows(days: Iterable[dt.date]) -> list[tuple]:
    """Native_Load_<year>.xlsx rows: "MM/DD/YYYY HH:00" (" DST" on the repeated hour), 8 weather zones, ERCOT."""
    rows = []
    for day in days:
        for hour, rep in ercot_hours(day):
            total = ercot_load(day, hour, rep)
            label = f"{day:%m/%d/%Y} {hour:02d}:00" + (" DST" if rep else "")
            rows.append((label, *[total / 8] * 8, total))
    return rows


def by_month(rows: list[tuple]) -> dict[str, list[tuple]]:
    """Split rows (date text or datetime first) into month sheets as NP4-180-ER / NP6-785-ER do; a row whose
    date a test broke stays on the sheet of the row before it."""
    sheets: dict[str, list[tuple]] = {}
    title = None
    for row in rows:
        first = row[0]
        if isinstance(first, dt.datetime):
            title = MONTHS[first.month - 1]
        elif str(first)[:2].isdigit() and 1 <= int(str(first)[:2]) <= 12:
            title = MONTHS[int(str(first)[:2]) - 1]
        sheets.setdefault(title, []).append(row)
    return sheets


def write_xlsx(path: Path, header: tuple, sheets: dict[str, list[tuple]]) -> Path:
    """A workbook with the same header on every sheet."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def csv_text(header: tuple, rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # ERCOT's MIS serves CRLF files
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_csv(path: Path, header: tuple, rows: list[tuple]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(header, rows))
    return path


def write_zip(path: Path, member: str, data: str | bytes) -> Path:
    """A zip holding one file, as the MIS serves every report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    return path


def dam_workbook(path: Path, rows: list[tuple]) -> Path:
    return write_xlsx(path, DAM_HEADER, by_month(rows))


def rtm_workbook(path: Path, rows: list[tuple]) -> Path:
    """Like the real export, the first data row carries its date as a spreadsheet datetime, not text."""
    first, *rest = rows
    first = (dt.datetime.strptime(first[0], "%m/%d/%Y"), *first[1:])
    return write_xlsx(path, RTM_HEADER, by_month([first, *rest]))


def load_workbook(path: Path, rows: list[tuple], sheet: str = "Native Load Report") -> Path:
    return write_xlsx(path, LOAD_HEADER, {sheet: rows})


def tidy_table(days: Iterable[dt.date], points: Iterable[str] = POINTS) -> pd.DataFrame:
    """The project's tidy layout: rtm_price = DAM + 4, load_mw = ercot_load (+10 at load zones, so points
    disagree and the system value is their mean), timestamp_utc tz-aware UTC."""
    frames = []
    for day in days:
        hours = timeutil.day_hours(day)
        for point in points:
            dam = [dam_price(day, h, r, point) for h, r in zip(hours.hour_ending, hours.repeated_hour, strict=True)]
            load = [ercot_load(day, h, r) for h, r in zip(hours.hour_ending, hours.repeated_hour, strict=True)]
            frames.append(
                pd.DataFrame(
                    {
                        "timestamp_utc": hours.timestamp_utc,
                        "settlement_point": point,
                        "dam_price": dam,
                        "rtm_price": [p + 4.0 for p in dam],
                        "load_mw": [x + (10.0 if point.startswith("LZ") else 0.0) for x in load],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)

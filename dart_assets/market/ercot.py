"""Read ERCOT's own report files (DAM/RTM settlement point prices, hourly native load, day-ahead driver
forecasts) into the tidy tables.

Users drop whatever they downloaded from ERCOT into a folder: the yearly NP4-180-ER / NP6-785-ER workbooks
(one sheet per month), the daily NP4-190-CD / NP6-905-CD CSVs (plain or zipped, as the MIS serves them), the
hourly native-load archive and the wind, solar and load forecast reports (see forecast_reports). Files are
recognised by name, columns by header (case, spaces and underscores ignored), and every problem surfaces as one
MarketDataError naming the file, the sheet and the row as the user sees it in Excel or a text editor, so a bad
download can be found and fixed. A requested day the files do not cover is simply absent from the tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
from openpyxl.utils.exceptions import InvalidFileException

from dart_assets.market import schemas, timeutil
from dart_assets.market.schemas import MarketDataError


@dataclass(frozen=True)
class Report:
    """One ERCOT report: the file names that hold it and the headers that carry each field."""

    title: str
    names: re.Pattern[str]
    columns: dict[str, tuple[str, ...]]  # field -> accepted headers, the first as ERCOT's workbook spells it


DAM = Report(
    "DAM settlement point prices (NP4-180-ER DAMLZHBSPP_<year>.xlsx, NP4-190-CD csv/zip)",
    re.compile(r"damlzhbspp|damspnp4190|dam_spp", re.IGNORECASE),
    {
        "date": ("Delivery Date",),
        "hour": ("Hour Ending",),
        "repeated": ("Repeated Hour Flag", "DSTFlag"),
        "point": ("Settlement Point", "Settlement Point Name"),
        "price": ("Settlement Point Price",),
    },
)
RTM = Report(
    "RTM settlement point prices (NP6-785-ER RTMLZHBSPP_<year>.xlsx or rtm_spp*.xlsx, NP6-905-CD csv/zip)",
    re.compile(r"rtmlzhbspp|spphlznp6905|rtm_spp", re.IGNORECASE),
    {
        "date": ("Delivery Date",),
        "hour": ("Delivery Hour",),
        "interval": ("Delivery Interval",),
        "repeated": ("Repeated Hour Flag", "DSTFlag"),
        "point": ("Settlement Point Name", "Settlement Point"),
        "type": ("Settlement Point Type",),
        "price": ("Settlement Point Price",),
    },
)
LOAD = Report(
    "ERCOT hourly native load (Native_Load_<year>.xlsx or .zip)",
    re.compile(r"native_?load", re.IGNORECASE),
    {"hour_ending": ("Hour Ending", "Hour_End"), "load": ("ERCOT",)},
)

INTERVALS_PER_HOUR = 4
# Load zones come as LZ and energy-weighted LZEW, hubs as HU and SH; the first of each pair is the price we
# want. Points carrying only one type (HB_BUSAVG as SH, HB_HUBAVG as AH) keep it.
_TYPE_RANK = {"LZEW": 1, "SH": 1}
_SUFFIXES = {".xlsx", ".csv", ".zip"}
_MEMBER_SUFFIXES = {".xlsx", ".csv", ".parquet"}  # what a zip may hold
# What openpyxl raises on a file that is not a workbook or is cut short: the container is a zip of XML parts.
_WORKBOOK_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    OSError,
    ValueError,
    TypeError,
    SyntaxError,  # xml.etree.ElementTree.ParseError
    InvalidFileException,
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_ROW_COLUMNS: dict[str, Any] = {  # every parsed row, whatever its report; _label/_row say where the user finds it
    "date": "datetime64[ns]",
    "hour": "int64",
    "repeated": bool,
    "point": object,
    "type": object,
    "interval": "int64",
    "value": "float64",
    "timestamp_utc": "datetime64[ns, UTC]",
    "_label": object,
    "_row": "int64",
}


def read_dam(folder: str | Path, start: dt.date, end: dt.date, points: list[str]) -> pd.DataFrame:
    """Hourly DAM settlement point prices for delivery dates start..end (inclusive) and the given points."""
    rows = _points_in_range(folder, DAM, start, end, points)
    rows = drop_duplicates(rows, ["point", "date", "hour", "repeated"], per_hour=1)
    return finish("dam_prices", _tidy(rows, "dam_price"), str(folder))


def read_rtm(folder: str | Path, start: dt.date, end: dt.date, points: list[str]) -> pd.DataFrame:
    """Hourly RTM prices: the mean of ERCOT's four 15-minute settlement point prices in each delivery hour."""
    rows = _prefer_types(_points_in_range(folder, RTM, start, end, points))
    rows = drop_duplicates(rows, ["point", "date", "hour", "repeated", "interval"], per_hour=INTERVALS_PER_HOUR)
    return finish("rtm_prices", _tidy(_hourly_mean(rows), "rtm_price"), str(folder))


def read_system(folder: str | Path, start: dt.date, end: dt.date) -> pd.DataFrame | None:
    """ERCOT-wide hourly native load as load_mw, or None when the folder holds no native-load archive.

    Hours the archive does not cover are simply absent (a 2024 archive asked for 2025 gives an empty table).
    """
    if not find_files(folder, LOAD):
        return None
    rows = drop_duplicates(_collect(folder, LOAD, start, end), ["date", "hour", "repeated"], per_hour=1)
    frame = _tidy(rows, "load_mw").drop(columns="settlement_point")
    return finish("system_conditions", frame, str(folder))


def read_forecasts(folder: str | Path, start: dt.date, end: dt.date) -> pd.DataFrame | None:
    """ERCOT's wind, solar and load forecasts for delivery dates start..end as driver_forecasts, one row per delivery
    hour and posting (every posting in the folder); None when the folder holds no forecast report."""
    from dart_assets.market import forecast_reports  # it builds on this module's helpers

    return forecast_reports.read_folder(folder, start, end)


def _points_in_range(
    folder: str | Path, report: Report, start: dt.date, end: dt.date, points: list[str]
) -> pd.DataFrame:
    """The report's rows for the points in start..end. No rows at all in the range is a gap (days the files do not
    cover); rows for other points but none for a requested one mean the point is not in these reports."""
    rows = _collect(folder, report, start, end)
    if rows.empty:
        return rows
    return select_points(rows, "point", points, f"{folder} ({report.title})", start, end)


# ----------------------------------------------------------------------------------------------- shared helpers


def fail_first(values: pd.Series, bad: pd.Series, label: str, problem: str) -> None:
    """Raise MarketDataError for the first flagged row; problem may use {value} for the offending cell."""
    if bad.any():
        row = bad.idxmax()
        raise MarketDataError(f"{label}, row {row}: {problem.format(value=values.at[row])}")


def parse_numbers(values: pd.Series, label: str, what: str, allow_missing: bool = False) -> pd.Series:
    """Floats from cells that may hold numbers or numeric text; text or (unless allowed) blanks are errors."""
    missing = values.isna() | values.astype(str).str.strip().eq("")
    numbers = pd.to_numeric(values.where(~missing), errors="coerce").astype("float64")
    if not allow_missing:
        fail_first(values, missing, label, f"missing {what} (empty cell or NaN)")
    fail_first(values, numbers.isna() & ~missing, label, f"{what} {{value!r}} is not a number")
    return numbers


def select_points(
    rows: pd.DataFrame,
    column: str,
    points: list[str],
    source: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Rows of the requested settlement points; a point with no rows at all is an error listing what exists.
    start..end, when given, are the delivery dates the rows were limited to (for the message)."""
    available = sorted(rows[column].unique())
    missing = [p for p in points if p not in set(available)]
    if missing:
        scope = f"for delivery dates {start}..{end}" if start is not None else "in any row"
        raise MarketDataError(f"{source}: settlement point(s) {missing} not found {scope}; available: {available}")
    return rows[rows[column].isin(points)]


def csv_cells(source, label: str) -> pd.DataFrame:
    """A CSV (a path or a binary file object) as text cells, indexed by the line number an editor shows; only empty
    cells are NaN (so text such as 'n/a' stays text and is reported), blank lines dropped. A UTF-8 byte-order mark
    and Windows line endings are fine; an empty file, binary data, another encoding, a repeated header, broken
    quoting or a row with more or fewer cells than the header is a MarketDataError naming the row or line (a header
    without rows is refused once the header is known to be right, see require_rows).

    Python's csv module rather than pandas: pandas pads a short row with blanks, and takes a first row with one
    cell too many as the index, silently."""
    data = source.read() if hasattr(source, "read") else Path(source).read_bytes()
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MarketDataError(f"{label}: binary data, not CSV text (NUL bytes in the first 4 KB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MarketDataError(f"{label}{_not_utf8(data, exc.start)}") from None
    records = _records(text, label)
    if not records:
        raise MarketDataError(f"{label}: empty file (no header, no rows): an interrupted download?")
    (_, header), *rows = records
    columns = [cell.strip() or f"Unnamed: {j}" for j, cell in enumerate(header)]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise MarketDataError(f"{label}, row 1: column(s) {twice} appear more than once in the header")
    for line, cells in rows:
        if len(cells) != len(columns):
            raise MarketDataError(
                f"{label}, row {line}: {len(cells)} cells where the header has {len(columns)} "
                "(a stray or missing comma, or a line cut short?)"
            )
    frame = pd.DataFrame([cells for _, cells in rows], columns=columns, index=[line for line, _ in rows], dtype=object)
    return frame.mask(frame == "")


def _records(text: str, label: str) -> list[tuple[int, list[str]]]:
    """(line the record starts on, cells) for each non-blank record."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return records
        except csv.Error as exc:
            problem = (
                "a quoted cell is never closed" if "unexpected end of data" in str(exc) else f"bad quoting ({exc})"
            )
            raise MarketDataError(f"{label}, line {line}: {problem}: a cut-off or hand-edited file?") from None
        if any(cell != "" for cell in cells):
            records.append((line, cells))


def _not_utf8(data: bytes, offset: int) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ": UTF-16 text (Excel's 'Unicode Text'), not a CSV; save it as 'CSV UTF-8'"
    line = data[:offset].count(b"\n") + 1
    return f", line {line}: byte 0x{data[offset]:02x} is not UTF-8 text; save the file as 'CSV UTF-8'"


def parquet_cells(source, label: str) -> pd.DataFrame:
    """A Parquet table with its own dtypes, indexed by 1-based row number."""
    try:
        frame = pd.read_parquet(source)
    except (OSError, ValueError, pa.ArrowException) as exc:  # ArrowInvalid is a ValueError; a cut file an OSError
        raise MarketDataError(f"{label}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    frame = frame.set_axis(pd.RangeIndex(1, len(frame) + 1), axis=0)
    for column in frame.select_dtypes(include="object").columns:  # cells no reader takes as number, text or time
        values = frame[column]
        fail_first(
            values, values.map(_not_scalar), label, f"column {column!r}: {{value!r}} is not a number, text or time"
        )
    return frame


def _not_scalar(value) -> bool:
    return isinstance(value, (bytes, bytearray, list, tuple, dict, set, np.ndarray))


def require_rows(raw: pd.DataFrame, label: str) -> None:
    """A report or table with the right header and no rows is a failed export or download, never a real posting
    (a yearly workbook's month sheet without rows yet is skipped before this)."""
    if raw.empty:
        raise MarketDataError(f"{label}: no rows below the header: an incomplete download?")


def finish(kind: str, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Sort by (timestamp_utc, settlement_point or posted_utc) and validate; the index names each row's origin
    until then."""
    keys = [c for c in ("timestamp_utc", "settlement_point", schemas.POSTED_COLUMN) if c in frame]
    frame = frame.sort_values(keys, kind="stable")
    return schemas.validate(kind, frame, source).reset_index(drop=True)


# ------------------------------------------------------------------------------------------- finding and reading


def find_files(folder: str | Path, report: Report, suffixes: set[str] = _SUFFIXES) -> list[Path]:
    """The report's files anywhere under folder, recognised by name."""
    root = Path(folder)
    if not root.is_dir():
        raise MarketDataError(f"{root}: market data folder does not exist")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not p.name.startswith(("~$", "."))  # Excel lock files, hidden files
        and report.names.search(p.name)
    )


def check_range(start: dt.date, end: dt.date, source: str) -> None:
    """A reversed range would read as an empty one, i.e. a silent gap: refuse it."""
    if pd.Timestamp(start) > pd.Timestamp(end):
        raise ValueError(f"{source}: delivery dates {start}..{end}: the first day is after the last")


def _collect(folder: str | Path, report: Report, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Parsed rows of every table of the report in the folder, limited to delivery dates start..end."""
    check_range(start, end, str(folder))
    files = find_files(folder, report)
    if not files:
        raise MarketDataError(f"{folder}: no {report.title} files found")
    parts = [_parse(raw, label, report, start, end) for path in files for label, raw in report_tables(path, start, end)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in _ROW_COLUMNS.items()})
    return pd.concat(parts, ignore_index=True)


def report_tables(path: Path, start: dt.date, end: dt.date) -> Iterator[tuple[str, pd.DataFrame]]:
    """(label, raw cells) for each CSV, Parquet or relevant workbook sheet in a file or zip; index = row number as
    shown. The label names the file (and zip member) so errors point into it."""
    if path.suffix.lower() != ".zip":
        yield from _member_tables(str(path), path.name, path, start, end)
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MarketDataError(f"{path}: not a readable zip archive ({exc}): an interrupted download?") from None
    with archive:
        members = [m for m in archive.namelist() if Path(m).suffix.lower() in _MEMBER_SUFFIXES]
        if not members:
            raise MarketDataError(
                f"{path}: the zip archive holds no {'/'.join(sorted(_MEMBER_SUFFIXES))} file; "
                f"it holds {archive.namelist()}"
            )
        for member in members:
            label = f"{path} (member {member})"
            try:
                data = archive.read(member)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
                raise MarketDataError(f"{label}: cannot be extracted ({exc}): a damaged download?") from None
            yield from _member_tables(label, member, io.BytesIO(data), start, end)


def _member_tables(label: str, name: str, source, start: dt.date, end: dt.date) -> Iterator[tuple[str, pd.DataFrame]]:
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        yield label, csv_cells(source, label)
    elif suffix == ".parquet":
        yield label, parquet_cells(source, label)
    elif suffix == ".xlsx":
        yield from _workbook_tables(label, name, source, start, end)


def _workbook_tables(label: str, name: str, source, start: dt.date, end: dt.date) -> Iterator[tuple[str, pd.DataFrame]]:
    """Only the sheets whose month overlaps start..end: parsing a whole year takes seconds per call."""
    years = set(re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", Path(name).stem))
    year = int(years.pop()) if len(years) == 1 else None
    if year is not None and not start.year <= year <= end.year:
        return
    wanted = {(d.year, d.month) for d in pd.date_range(start, end, freq="D")}
    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except _WORKBOOK_ERRORS as exc:
        raise MarketDataError(f"{label}: not a readable Excel workbook ({_first_line(exc)}): a damaged file?") from None
    try:
        for sheet in book.worksheets:
            month = _MONTHS.get(sheet.title.strip().lower())
            if month is None or (year, month) in wanted or (year is None and month in {m for _, m in wanted}):
                where = f"{label}, sheet {sheet.title!r}"
                try:
                    cells = _sheet_cells(sheet)
                except _WORKBOOK_ERRORS as exc:
                    raise MarketDataError(f"{where}: cannot be read ({_first_line(exc)}): a damaged file?") from None
                if cells.empty and len(cells.columns):
                    continue  # a month the yearly workbook has no rows for yet (its header only)
                yield where, cells
    finally:
        book.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _sheet_cells(sheet) -> pd.DataFrame:
    """Cells below the first non-empty row (the header), indexed by Excel row number, blank rows dropped."""
    rows = [
        (number, cells)
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1)
        if any(v is not None and v != "" for v in cells)
    ]
    if not rows:
        return pd.DataFrame()
    (_, header), *data = rows
    width = len(header)
    return pd.DataFrame(
        [tuple(cells[:width]) + (None,) * (width - len(cells)) for _, cells in data],
        columns=["" if h is None else str(h).strip() for h in header],
        index=[number for number, _ in data],
        dtype=object,
    )


# -------------------------------------------------------------------------------------------------------- parsing


def _parse(raw: pd.DataFrame, label: str, report: Report, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One raw table -> rows with the _ROW_COLUMNS fields (those the report has), in start..end, with UTC times."""
    fields = header_fields(raw, label, report)
    if report is LOAD:
        fields = _split_load_hour_ending(fields, label)
    date = parse_dates(fields["date"], label)
    keep = date.between(pd.Timestamp(start), pd.Timestamp(end))
    fields, date = fields[keep], date[keep]
    rows = pd.DataFrame(
        {
            "date": date,
            "hour": whole_numbers(fields["hour"], label, "hour ending"),
            "repeated": flags(fields["repeated"], label),
        },
        index=fields.index,
    )
    if report is LOAD:
        rows["value"] = parse_numbers(fields["load"], label, "ERCOT load")
    else:
        rows["point"] = _names(fields["point"], label, "settlement point")
        rows["value"] = parse_numbers(fields["price"], label, "settlement point price")
    if "interval" in fields:
        rows["interval"] = whole_numbers(fields["interval"], label, "delivery interval")
        fail_first(
            fields["interval"],
            ~rows["interval"].between(1, INTERVALS_PER_HOUR),
            label,
            f"delivery interval {{value!r}} is outside 1..{INTERVALS_PER_HOUR}",
        )
    if "type" in fields:
        rows["type"] = _names(fields["type"], label, "settlement point type").str.upper()
    rows["timestamp_utc"] = utc_hours(rows, label)
    return rows.assign(_label=label, _row=rows.index).reset_index(drop=True)


def header_fields(raw: pd.DataFrame, label: str, report: Report) -> pd.DataFrame:
    """The report's columns renamed to field names; a missing one lists the expected and the found headers, and
    the right header without rows is an incomplete file."""
    by_key = {header_key(c): c for c in raw.columns}
    found = {
        field: next((by_key[header_key(h)] for h in headers if header_key(h) in by_key), None)
        for field, headers in report.columns.items()
    }
    missing = [" or ".join(report.columns[f]) for f, column in found.items() if column is None]
    if missing:
        raise MarketDataError(
            f"{label}: missing column(s) {missing} for {report.title}; "
            f"expected {[h[0] for h in report.columns.values()]}, found {[str(c) for c in raw.columns]}"
        )
    require_rows(raw, label)
    return raw[list(found.values())].set_axis(list(found), axis=1)


def header_key(header) -> str:
    return re.sub(r"[^a-z0-9]", "", str(header).lower())


def _split_load_hour_ending(fields: pd.DataFrame, label: str) -> pd.DataFrame:
    """Native load's single "Hour Ending" column ("01/01/2024 01:00", "... 24:00", "11/03/2024 02:00 DST", or a
    spreadsheet datetime) -> date, hour and repeated columns."""

    def as_text(cell):
        if isinstance(cell, dt.datetime):  # an hour-ending instant: midnight closes the previous day as HE24
            begin = cell - dt.timedelta(hours=1)
            return f"{begin:%m/%d/%Y} {begin.hour + 1:02d}:00"
        return cell

    text = fields["hour_ending"].map(as_text)
    parts = text.astype(str).str.extract(r"^\s*(\S+)\s+(\d{1,2}):00(?::00)?\s*(DST)?\s*$", flags=re.IGNORECASE)
    fail_first(
        fields["hour_ending"],
        parts[1].isna(),
        label,
        "hour ending {value!r} is not like '01/31/2024 13:00' (or '... 02:00 DST')",
    )
    return pd.DataFrame(
        {"date": parts[0], "hour": parts[1], "repeated": parts[2].notna(), "load": fields["load"]},
        index=fields.index,
    )


def parse_dates(values: pd.Series, label: str) -> pd.Series:
    """Naive midnight delivery dates from MM/DD/YYYY (or YYYY-MM-DD) text or spreadsheet/Parquet date cells. A
    delivery date is a calendar day: text with a time or an offset is not one."""
    is_text = values.map(lambda v: isinstance(v, str)).astype(bool)
    text = values[is_text].astype(object).map(str.strip)
    parsed = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce").fillna(
        pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    )
    cells = pd.to_datetime(values[~is_text].map(_calendar_day), errors="coerce")  # out of range: NaT, reported
    dates = pd.concat([parsed.astype("datetime64[ns]"), cells.astype("datetime64[ns]")]).reindex(values.index)
    fail_first(values, dates.isna(), label, "unparseable delivery date {value!r} (expected MM/DD/YYYY)")
    return dates.dt.normalize()


def _calendar_day(cell) -> dt.date | None:
    """A date cell's day as written (a zone, if any, is dropped, not converted); None for anything else."""
    if isinstance(cell, dt.datetime):  # pd.Timestamp and NaT too
        return cell.replace(tzinfo=None)
    return cell if isinstance(cell, dt.date) else None


def whole_numbers(values: pd.Series, label: str, what: str) -> pd.Series:
    """Integers from 7, 7.0, '07' or ERCOT's '07:00' hour-ending text."""
    numbers = pd.to_numeric(values.astype(str).str.strip().str.replace(r":00$", "", regex=True), errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0) | (numbers.abs() > 10**6)  # 1e30 would wrap around as an int64
    fail_first(values, bad, label, f"{what} {{value!r}} is not a whole number")
    return numbers.astype("int64")


def flags(values: pd.Series, label: str, what: str = "repeated hour flag") -> pd.Series:
    """Booleans from Y/N (ERCOT's CSVs) or true/false (its API)."""
    parsed = values.map(lambda v: str(v).strip().upper()).map({"N": False, "Y": True, "FALSE": False, "TRUE": True})
    fail_first(values, parsed.isna(), label, f"{what} {{value!r}} is not Y or N")
    return parsed.astype(bool)


def _names(values: pd.Series, label: str, what: str) -> pd.Series:
    blank = values.isna() | values.astype(str).str.strip().eq("")
    fail_first(values, blank, label, f"missing {what}")
    return values.astype(str).str.strip()


def utc_hours(rows: pd.DataFrame, label: str) -> pd.Series:
    """UTC hour beginning per row, converting each distinct (date, hour, flag) once; bad hours name their row."""
    times = rows[["date", "hour", "repeated"]].drop_duplicates()
    try:
        utc = timeutil.to_utc(times["date"], times["hour"], times["repeated"])
    except timeutil.DeliveryTimeError as exc:  # its message starts "row <index>", our index is the user's row
        raise MarketDataError(f"{label}, {exc}") from None
    lookup = times.assign(timestamp_utc=utc.astype("datetime64[ns, UTC]"))
    return rows.merge(lookup, on=["date", "hour", "repeated"], how="left")["timestamp_utc"].set_axis(rows.index)


# ---------------------------------------------------------------------------------------------- combining rows


def _prefer_types(rows: pd.DataFrame) -> pd.DataFrame:
    """Per point and interval keep LZ over LZEW and HU over SH (see _TYPE_RANK)."""
    rank = rows["type"].map(_TYPE_RANK).fillna(0)
    best = rank.groupby([rows[c] for c in ("point", "date", "hour", "repeated", "interval")]).transform("min")
    return rows[rank == best]


def drop_duplicates(rows: pd.DataFrame, key: list[str], per_hour: int) -> pd.DataFrame:
    """Drop the same row read from overlapping files; reject a row repeated within one table (more hours than
    the day has) and the same key with conflicting values in different files."""
    duplicated = rows.duplicated(key, keep=False)
    if not duplicated.any():
        return rows
    dups = rows[duplicated]
    again = dups[dups.duplicated([*key, "_label"])]
    if len(again):
        extra = again.iloc[0]
        where = _describe(extra)
        day = [c for c in ("_label", "point", "column", "posted_utc", "date") if c in rows]
        count = int((rows[day] == extra[day]).all(axis=1).sum())
        allowed = timeutil.hours_in_day(extra["date"]) * per_hour
        unit = "hour" if per_hour == 1 else "15-minute interval"
        if count > allowed:
            problem = f"{count} {unit}s on {where}, more than the {allowed} the day has ({_slot(extra)} again)"
        else:
            same = (rows[[*key, "_label"]] == extra[[*key, "_label"]]).all(axis=1)
            problem = f"{_slot(extra)} on {where} already appears at row {rows.loc[same, '_row'].min()}"
            if allowed == 25 * per_hour and extra["hour"] == 2 and not extra["repeated"]:
                problem += (
                    "; on the fall-back day the second hour ending 02 must carry the repeated-hour flag "
                    "(Repeated Hour Flag or DSTFlag Y)"
                )
        raise MarketDataError(f"{extra['_label']}, row {extra['_row']}: {problem}")
    conflict = dups.groupby(key)["value"].transform("nunique") > 1
    if conflict.any():
        first = dups[conflict].iloc[0]
        same = dups[(dups[key] == first[key]).all(axis=1) & (dups["value"] != first["value"])].iloc[0]
        raise MarketDataError(
            f"conflicting duplicate rows for {_slot(first)} on {_describe(first)}: "
            f"{first['_label']}, row {first['_row']} has {first['value']:g} but "
            f"{same['_label']}, row {same['_row']} has {same['value']:g}"
        )
    return rows.drop_duplicates(key)


def _describe(row: pd.Series) -> str:
    what = f" for {row['point']}" if "point" in row else f" for {row['column']}" if "column" in row else ""
    posted = f" in the posting of {row['posted_utc']:%Y-%m-%d %H:%M:%S} UTC" if "posted_utc" in row else ""
    return f"{row['date']:%Y-%m-%d}{what}{posted}"


def _slot(row: pd.Series) -> str:
    interval = f" interval {row['interval']}" if "interval" in row else ""
    repeated = " (repeated hour)" if row["repeated"] else ""
    return f"hour ending {row['hour']:02d}{repeated}{interval}"


def _hourly_mean(rows: pd.DataFrame) -> pd.DataFrame:
    """Average each delivery hour's 15-minute prices; an hour without all four intervals cannot be averaged."""
    hourly = (
        rows.sort_values("_row", kind="stable")
        .groupby(["point", "date", "hour", "repeated", "timestamp_utc"], sort=False)
        .agg(value=("value", "mean"), intervals=("value", "size"), _label=("_label", "first"), _row=("_row", "first"))
        .reset_index()
    )
    short = hourly[hourly["intervals"] < INTERVALS_PER_HOUR]
    if len(short):
        row = short.iloc[0]
        raise MarketDataError(
            f"{row['_label']}, row {row['_row']}: {_slot(row)} on {_describe(row)} has {row['intervals']} of "
            f"{INTERVALS_PER_HOUR} 15-minute intervals; cannot average it to the hour"
        )
    return hourly


def _tidy(rows: pd.DataFrame, value: str) -> pd.DataFrame:
    """The schema's columns, indexed by where each row came from so validation errors point into the files."""
    frame = pd.DataFrame(
        {
            "timestamp_utc": rows["timestamp_utc"].astype("datetime64[ns, UTC]"),
            "delivery_date": rows["date"].astype("datetime64[ns]"),
            "hour_ending": rows["hour"].astype("int64"),
            "repeated_hour": rows["repeated"].astype(bool),
            "settlement_point": rows["point"].astype(str) if "point" in rows else "",
            value: rows["value"].astype("float64"),
        }
    )
    frame.index = rows["_label"].astype(str) + ", row " + rows["_row"].astype(str)
    return frame

"""The parsers against generated garbage and mutated valid files (hypothesis, derandomized: CI sees the same examples).

Every outcome must be a table that passes the schema, or MarketDataError naming the file (or, for a settlement point
missing from every file, the folder). Anything else (KeyError, IndexError, pandas' ParserError, UnicodeDecodeError,
openpyxl's or zipfile's errors...) is a bug in the reader. Mutations are what broken downloads and hand edits do:
random cells (numbers, dates, hours, flags, text), rows dropped or repeated, columns dropped or renamed, stray quotes
and commas, cut-off files, other encodings and line endings, damaged zip and xlsx containers.

FUZZ_EXAMPLES=2000 explores: that many fresh random examples per reader (hypothesis prints how to reproduce a
failure); the default, 60 fixed examples each, keeps the suite fast and reproducible.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from dart_assets.market import ercot, schemas, table
from dart_assets.market.schemas import MarketDataError
from dart_assets_tests.bad_input import inputs as bad
from dart_assets_tests.market import fixtures as fx

EXPLORE = os.environ.get("FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(EXPLORE or 60),
    deadline=None,
    derandomize=not EXPLORE,  # the suite sees the same examples on every run and machine; exploring draws new ones
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
D = dt.date
YEAR = (D(2024, 1, 1), D(2024, 12, 31))
FORECAST_DAYS = (D(2024, 3, 1), D(2024, 11, 30))  # the fixtures' postings (03-09, 03-16, 11-02) reach into it
FORECASTS = fx.FORECAST_FIXTURES
SOLAR_MIS = "cdr.00021809.0000000000000000.20240309.095536000.PVGRHRLYAVGACTGEONP4745.csv"
LOAD_MIS = "cdr.00014837.0000000000000000.20241102.093000.LFMODWEATHERNP3565_csv.zip"
SOLAR_API = "np4-745-cd_api_2024-03-10_2024-03-17.csv"

Grid = list[list[str]]

# ------------------------------------------------------------------------------------------------ cell values

NUMBERS = st.one_of(
    st.floats(-250.0, 5000.0).map(repr),  # plausible prices and forecasts
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["1e309", "-0", "1,000.5", "$25.10", "25.1.2", "0x1F", "NaN", "-inf", "Infinity", "null"]),
)
DATES = st.one_of(
    st.dates(D(1900, 1, 1), D(2100, 12, 31)).flatmap(
        lambda d: st.sampled_from([f"{d:%m/%d/%Y}", f"{d:%Y-%m-%d}", f"{d:%d/%m/%Y}", f"{d:%m/%d/%y}", f"{d:%Y%m%d}"])
    ),
    st.sampled_from(["02/30/2024", "13/01/2024", "00/10/2024", "2024-02-30", "03/10/2024 02:00", "11/03/2024"]),
)
HOURS = st.one_of(
    st.integers(-3, 30).flatmap(lambda h: st.sampled_from([str(h), f"{h:02d}:00", f"{h}.0", f"{h:02d}:30"])),
    st.sampled_from(["02:00 DST", "24:00:00", "1:00 AM", ""]),
)
FLAGS = st.sampled_from(["Y", "N", "y", "n", "TRUE", "False", "true", "", "maybe", "1", "0"])
TIMES = st.one_of(
    st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1)).map(lambda t: t.isoformat()),
    st.sampled_from(["2024-03-10T02:30:00", "2024-11-03T01:30:00", "2024-01-02T06:00:00+05:00", "yesterday", "0"]),
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
CELLS = st.one_of(NUMBERS, DATES, HOURS, FLAGS, TIMES, TEXT)


# ---------------------------------------------------------------------------------------------------- mutations


@st.composite
def mutated(draw, grid: Grid) -> bytes:
    """A valid CSV (header row first) after 0-3 edits of the kinds broken files show, then encoded (some edits, line
    endings and encodings leave a file that must still read)."""
    rows = [list(r) for r in grid]
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(
            st.sampled_from(["cell", "cell", "cell", "drop row", "repeat row", "drop column", "rename", "extra cell"])
        )
        i = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if not rows:
            break
        if kind == "cell" and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(CELLS)
        elif kind == "drop row":
            rows.pop(i)
        elif kind == "repeat row":
            rows.insert(draw(st.integers(0, len(rows))), list(rows[i]))
        elif kind == "drop column" and rows[0]:
            j = draw(st.integers(0, len(rows[0]) - 1))
            rows = [r[:j] + r[j + 1 :] for r in rows]
        elif kind == "rename" and rows[0]:
            rows[0][draw(st.integers(0, len(rows[0]) - 1))] = draw(TEXT)
        elif kind == "extra cell":
            rows[i].append(draw(CELLS))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    text = newline.join(",".join(_quoted(c) for c in r) for r in rows) + newline
    if draw(st.integers(0, 3)) == 0:  # a stray quote, comma or blank line somewhere
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', ",", newline, "\x00", "\ufeff"])) + text[at:]
    encoding = draw(
        st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-8-sig", "latin-1", "utf-16", "cp1252"])
    )
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 5)) == 0:  # cut off mid-download
        data = data[: draw(st.integers(len(data) // 2, len(data)))]  # (an empty file is among the garbage)
    return data


def _quoted(cell: str) -> str:
    return f'"{cell.replace(chr(34), chr(34) * 2)}"' if any(c in cell for c in ',"\n\r') else cell


def garbage() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400).map(str.encode),
        st.lists(st.lists(CELLS, max_size=6), max_size=8).map(lambda g: "\n".join(",".join(r) for r in g).encode()),
    )


def grid_of(text: str) -> Grid:
    return [line.split(",") for line in text.splitlines()]


# ------------------------------------------------------------------------------------------------ the invariant


def in_folder(name: str, data: bytes, read: Callable[[Path], object], kind: str | None = None) -> None:
    """Write `data` as reports/<name> and read it: the reader returns tables that pass the schema (`kind`, or the
    keys of the dict it returns), or raises MarketDataError naming the file (a settlement point missing from every
    file: the folder). Any other exception propagates and fails the test."""
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "reports" / name
        path.parent.mkdir()
        path.write_bytes(data)
        try:
            result = read(path)
        except MarketDataError as exc:
            message = str(exc)
            assert str(path) in message or (str(path.parent) in message and "settlement point" in message), message
            event("MarketDataError")
            return
    event("read")
    tables = result if isinstance(result, dict) else {kind: result}
    for name_, frame in tables.items():
        if frame is not None:
            schemas.validate(name_, frame, "fuzz")  # raises if a reader let a bad row through


def dam(path: Path):
    return ercot.read_dam(path.parent, *YEAR, bad.POINTS)


def rtm(path: Path):
    return ercot.read_rtm(path.parent, *YEAR, bad.POINTS)


def forecasts(path: Path):
    return ercot.read_forecasts(path.parent, *FORECAST_DAYS)


def tidy(path: Path):
    return table.read_table(path, *YEAR, bad.POINTS)


# ----------------------------------------------------------------------------------------------------- the fuzz

DAYS = st.sampled_from([fx.NORMAL_DAY, fx.SPRING_FORWARD, fx.FALL_BACK])
DAM_GRIDS = DAYS.map(lambda d: grid_of(fx.csv_text(fx.DAM_CSV_HEADER, fx.dam_csv_rows([d]))))
# One point (HU and SH rows): 4 intervals x 24 hours x 2 types is enough to mutate.
RTM_GRIDS = DAYS.map(lambda d: grid_of(fx.csv_text(fx.RTM_CSV_HEADER, fx.rtm_csv_rows([d], ["HB_NORTH"]))))


@FUZZ
@given(data=st.one_of(garbage(), *[DAM_GRIDS.flatmap(mutated)] * 3))
def test_dam_csv(data):
    in_folder(bad.DAM_CSV, data, dam, "dam_prices")


@FUZZ
@given(data=st.one_of(garbage(), *[RTM_GRIDS.flatmap(mutated)] * 3))
def test_rtm_csv(data):
    in_folder(bad.RTM_CSV, data, lambda path: ercot.read_rtm(path.parent, *YEAR, ["HB_NORTH"]), "rtm_prices")


def _load_mis_text() -> str:
    with zipfile.ZipFile(FORECASTS / LOAD_MIS) as archive:
        return archive.read(archive.namelist()[0]).decode()


FORECAST_BASES = {
    SOLAR_MIS: (FORECASTS / SOLAR_MIS).read_text(),
    LOAD_MIS.replace("_csv.zip", ".csv"): _load_mis_text(),
    SOLAR_API: (FORECASTS / SOLAR_API).read_text(),
}


@FUZZ
@given(name=st.sampled_from(list(FORECAST_BASES)), mutation=st.data())
def test_forecast_reports_mis_and_api_layouts(name, mutation):
    data = mutation.draw(st.one_of(garbage(), *[mutated(grid_of(FORECAST_BASES[name]))] * 3))
    in_folder(name, data, forecasts, "driver_forecasts")


def _tidy_text(with_forecasts: bool) -> str:
    frame = fx.tidy_table([fx.NORMAL_DAY, fx.FALL_BACK])
    frame["timestamp_utc"] = frame["timestamp_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if with_forecasts:
        frame["wind_forecast_mw"] = 1000.0 + frame.index
        frame["forecast_posted_utc"] = "2024-01-01T15:55:00Z"
    return frame.to_csv(index=False)


TIDY_BASES = [grid_of(_tidy_text(False)), grid_of(_tidy_text(True))]


@FUZZ
@given(data=st.one_of(garbage(), *[st.sampled_from(TIDY_BASES).flatmap(mutated)] * 3))
def test_table_csv(data):
    in_folder("tidy.csv", data, tidy)


COLUMN_VALUES = st.sampled_from(
    [
        lambda n: pd.Series(["x"] * n),
        lambda n: pd.Series(range(n)),
        lambda n: pd.Series([None] * n, dtype=object),
        lambda n: pd.Series([True] * n),
        lambda n: pd.Series(pd.date_range("2024-01-02", periods=n, freq="h")),
        lambda n: pd.Series(pd.date_range("2024-01-02", periods=n, freq="h", tz="America/Chicago")),
        lambda n: pd.Series([float("nan")] * n),
        lambda n: pd.Series([float("inf")] * n),
        lambda n: pd.Series([b"\x00\xff"] * n),
        lambda n: pd.Series([[1, 2]] * n),
    ]
)


def _tidy_frame() -> pd.DataFrame:
    frame = fx.tidy_table([fx.NORMAL_DAY])
    return frame.assign(wind_forecast_mw=1000.0, forecast_posted_utc=pd.Timestamp("2024-01-01 15:55", tz="UTC"))


def _api_frame() -> pd.DataFrame:
    """The public-API layout as a Parquet pull has it: postedDatetime typed, naive Central time."""
    frame = pd.read_csv(FORECASTS / SOLAR_API)
    return frame.assign(postedDatetime=pd.to_datetime(frame["postedDatetime"]))


PARQUET_BASES = {
    "tidy.parquet": (_tidy_frame(), tidy, None),
    "np4-745-cd_api.parquet": (_api_frame(), forecasts, "driver_forecasts"),
}


@FUZZ
@given(name=st.sampled_from(list(PARQUET_BASES)), values=COLUMN_VALUES, choice=st.data())
def test_parquet_with_a_column_of_another_type(name, values, choice):
    """Parquet carries types: a column (or one cell) of another type than the layout's must not crash a reader."""
    base, read, kind = PARQUET_BASES[name]
    frame = base.copy()
    column = choice.draw(st.sampled_from(list(frame.columns)))
    replacement = values(len(frame)).to_numpy()
    if choice.draw(st.booleans()):
        frame[column] = replacement
    else:
        row = choice.draw(st.integers(0, len(frame) - 1))
        frame[column] = frame[column].astype(object)
        frame.at[row, column] = replacement[row]
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer, index=False)
    except (pa.ArrowException, ValueError, TypeError):
        assume(False)  # pyarrow cannot store that mix of types: no such file can exist
    in_folder(name, buffer.getvalue(), read, kind)


TYPED_CELLS = st.one_of(
    CELLS.filter(lambda text: not ILLEGAL_CHARACTERS_RE.search(text)),  # what a worksheet can hold
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),
    st.dates(D(1900, 3, 1), D(2100, 1, 1)),
    st.times(),
)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 47), st.integers(0, 4), TYPED_CELLS), min_size=1, max_size=3))
def test_workbook_cells_of_any_type(edits):
    """NP4-180-ER sheets hold typed cells (Excel turns '01:00' into a time, dates into datetimes, blanks into None)."""
    rows = [list(r) for r in fx.dam_rows([fx.NORMAL_DAY])]
    for row, column, value in edits:
        rows[row][column] = value
    with tempfile.TemporaryDirectory() as root:
        book = fx.write_xlsx(Path(root) / "DAMLZHBSPP_2024.xlsx", fx.DAM_HEADER, {"Jan": [tuple(r) for r in rows]})
        data = book.read_bytes()
    in_folder(book.name, data, dam, "dam_prices")


def _containers() -> dict[str, bytes]:
    """A valid NP4-180-ER workbook and a zipped NP4-190-CD CSV, as bytes."""
    with tempfile.TemporaryDirectory() as root:
        book = fx.dam_workbook(Path(root) / "DAMLZHBSPP_2024.xlsx", fx.dam_rows([fx.NORMAL_DAY]))
        archive = bad.zipped(Path(root), bad.DAM_CSV, bad.dam_text(bad.dam_rows()))
        return {book.name: book.read_bytes(), archive.name: archive.read_bytes()}


CONTAINERS = _containers()


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """Bytes flipped, a span zeroed, or the file cut short: what a bad disk or an interrupted download leaves."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "zero", "cut"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif kind == "zero":
            span = len(out[at : at + draw(st.integers(1, 64))])
            out[at : at + span] = bytes(span)
        else:
            del out[at:]
    return bytes(out)


@FUZZ
@given(name=st.sampled_from(list(CONTAINERS)), mutation=st.data())
def test_damaged_xlsx_and_zip(name, mutation):
    data = mutation.draw(damaged(CONTAINERS[name]))
    in_folder(name, data, dam, "dam_prices")


def test_the_fuzz_reaches_both_outcomes():
    """The mutations are not so wild that nothing parses: an unmutated base reads clean, one edit fails clearly."""
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / bad.DAM_CSV
        path.write_text(fx.csv_text(fx.DAM_CSV_HEADER, fx.dam_csv_rows([fx.NORMAL_DAY])))
        assert len(dam(path)) == 48
        path.write_text(fx.csv_text(fx.DAM_CSV_HEADER, bad.with_cell(bad.dam_rows(), 0, "HourEnding", "25")))
        with pytest.raises(MarketDataError, match=r"hour ending 25 is outside 01\.\.24"):
            dam(path)

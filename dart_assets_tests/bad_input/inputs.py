"""Good and broken input files for the bad-input tests, built from the market fixtures (prices encode their key).

Each writer puts one file where its reader looks and returns that file's path, which the error must name. Row
lists are the fixtures' plain tuples, so a case breaks one cell and knows the line the user sees (CSV line =
list index + 2: the header is line 1).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from dart_assets_tests.market import fixtures as fx

DAY = fx.NORMAL_DAY  # 2024-01-02, a 24-hour day
POINTS = list(fx.POINTS)  # HB_NORTH, LZ_HOUSTON
DAM_CSV = "DAMSPNP4190.csv"  # NP4-190-CD, as the MIS names it
RTM_CSV = "SPPHLZNP6905.csv"  # NP6-905-CD
DAM_COLUMN = {name: i for i, name in enumerate(fx.DAM_CSV_HEADER)}  # DeliveryDate, HourEnding, ... DSTFlag

Rows = list[tuple]


def dam_rows(day: dt.date = DAY, points: list[str] = POINTS) -> Rows:
    """NP4-190-CD rows, hour by hour, each hour's points in order: row i is CSV line i + 2."""
    return fx.dam_csv_rows([day], points)


def with_cell(rows: Rows, index: int, column: str, value) -> Rows:
    """A copy of rows with one cell of row `index` replaced (column by its NP4-190-CD header)."""
    out = list(rows)
    out[index] = tuple(value if i == DAM_COLUMN[column] else v for i, v in enumerate(out[index]))
    return out


def write_bytes(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def dam_csv(folder: Path, rows: Rows, header: tuple = fx.DAM_CSV_HEADER, name: str = DAM_CSV) -> Path:
    return fx.write_csv(folder / name, header, rows)


def dam_text(rows: Rows, header: tuple = fx.DAM_CSV_HEADER) -> str:
    """The CSV text ERCOT's MIS serves: CRLF line endings, no byte-order mark."""
    return fx.csv_text(header, rows)


def rtm_csv(folder: Path, rows: Rows) -> Path:
    return fx.write_csv(folder / RTM_CSV, fx.RTM_CSV_HEADER, rows)


def good_prices(folder: Path, days: list[dt.date]) -> Path:
    """A folder of valid NP4-190-CD and NP6-905-CD CSVs for `days`."""
    fx.write_csv(folder / DAM_CSV, fx.DAM_CSV_HEADER, fx.dam_csv_rows(days))
    fx.write_csv(folder / RTM_CSV, fx.RTM_CSV_HEADER, fx.rtm_csv_rows(days))
    return folder


def tidy_csv(
    path: Path, days: tuple[dt.date, ...] = (DAY,), edit: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> Path:
    """The project's tidy table as CSV text (ISO 8601 UTC stamps), optionally edited first."""
    frame = fx.tidy_table(list(days))
    frame = frame.assign(timestamp_utc=frame["timestamp_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).astype(object)
    if edit is not None:
        frame = edit(frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def zipped(folder: Path, member: str, data: str | bytes, name: str | None = None) -> Path:
    return fx.write_zip(folder / (name or f"{Path(member).stem}_csv.zip"), member, data)


def truncated(path: Path, keep: float = 0.5) -> Path:
    """Cut a file short, as an interrupted download leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def damaged_member(path: Path) -> Path:
    """Flip bytes inside the first member's compressed data, leaving the archive's directory intact."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 4, start + 12):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return path

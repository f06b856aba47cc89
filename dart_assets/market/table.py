"""Read one tidy market table (CSV or Parquet) that already has the project's layout.

For data that did not come as ERCOT report files (a vendor export, another team's warehouse): one row per
(UTC hour beginning, settlement point) with both prices and, optionally, system-wide driver columns. The ERCOT
clock columns are derived from timestamp_utc, so the file cannot disagree with them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from dart_assets.market import timeutil
from dart_assets.market.ercot import csv_cells, fail_first, finish, parse_numbers, select_points
from dart_assets.market.schemas import DAM_COLUMNS, DRIVER_COLUMNS, KEY_COLUMNS, RTM_COLUMNS, MarketDataError

REQUIRED = ["timestamp_utc", "settlement_point", "dam_price", "rtm_price"]
DERIVED = ["delivery_date", "hour_ending", "repeated_hour"]  # tolerated, ignored: recomputed from timestamp_utc


def read_table(path: str | Path, start: dt.date, end: dt.date, points: list[str]) -> dict[str, pd.DataFrame | None]:
    """dam_prices, rtm_prices and system_conditions (None without driver columns) for delivery dates start..end.

    A blank price leaves that hour out of its own table only (e.g. an RTM price not settled yet); text is an
    error. Drivers are system-wide: where points disagree for an hour, system_conditions holds their mean.
    """
    path = Path(path)
    label = str(path)
    raw = _cells(path)
    _check_columns(raw, label)
    timestamps = _timestamps(raw["timestamp_utc"], label)
    rows = pd.concat([timestamps.rename("timestamp_utc"), timeutil.from_utc(timestamps)], axis=1)
    rows["settlement_point"] = raw["settlement_point"].astype(str).str.strip()
    fail_first(
        raw["settlement_point"],
        raw["settlement_point"].isna() | rows["settlement_point"].eq(""),
        label,
        "missing settlement_point",
    )
    _reject_duplicates(rows, label)

    rows = rows[rows["delivery_date"].between(pd.Timestamp(start), pd.Timestamp(end))]
    priced = select_points(rows, "settlement_point", points, label, start, end)
    drivers = [c for c in DRIVER_COLUMNS if c in raw]
    return {
        "dam_prices": _prices("dam_prices", priced, raw, DAM_COLUMNS, label),
        "rtm_prices": _prices("rtm_prices", priced, raw, RTM_COLUMNS, label),
        "system_conditions": _system(rows, raw, drivers, label) if drivers else None,
    }


def _cells(path: Path) -> pd.DataFrame:
    """The file's cells indexed by the row number the user sees (CSV: editor line; Parquet: 1-based row)."""
    if not path.is_file():
        raise MarketDataError(f"{path}: tidy table not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_cells(path)
    if suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
        return frame.set_axis(pd.RangeIndex(1, len(frame) + 1), axis=0)
    raise MarketDataError(f"{path}: a tidy table must be .csv or .parquet")


def _check_columns(raw: pd.DataFrame, label: str) -> None:
    missing = [c for c in REQUIRED if c not in raw]
    unknown = [c for c in raw if c not in {*REQUIRED, *DERIVED, *DRIVER_COLUMNS}]
    if missing or unknown:
        problems = ([f"missing column(s) {missing}"] if missing else []) + (
            [f"unexpected column(s) {unknown}"] if unknown else []
        )
        raise MarketDataError(
            f"{label}: {'; '.join(problems)}; expected {REQUIRED} plus any of {DRIVER_COLUMNS}, "
            f"found {list(raw.columns)}"
        )


def _timestamps(values: pd.Series, label: str) -> pd.Series:
    """UTC hour beginnings from datetimes or ISO 8601 text; naive values mean UTC."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    else:
        stamps = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    fail_first(
        values,
        stamps.isna(),
        label,
        "unparseable timestamp_utc {value!r} (expected ISO 8601 such as 2024-01-02T06:00:00Z)",
    )
    fail_first(
        values,
        stamps != stamps.dt.floor("h"),
        label,
        "timestamp_utc {value!r} is not on the hour (expected the hour beginning)",
    )
    return stamps.astype("datetime64[ns, UTC]")


def _reject_duplicates(rows: pd.DataFrame, label: str) -> None:
    key = ["timestamp_utc", "settlement_point"]
    again = rows.duplicated(key)
    if again.any():
        row: Any = again.idxmax()
        same = (rows[key] == rows.loc[row, key]).all(axis=1)
        raise MarketDataError(
            f"{label}, row {row}: duplicate of row {same.idxmax()} "
            f"({rows['settlement_point'].at[row]} at {rows['timestamp_utc'].at[row]:%Y-%m-%d %H:%M} UTC)"
        )


def _prices(kind: str, rows: pd.DataFrame, raw: pd.DataFrame, columns: list[str], label: str) -> pd.DataFrame:
    price = columns[-1]
    values = parse_numbers(raw.loc[rows.index, price], label, price, allow_missing=True)
    return finish(kind, rows.assign(**{price: values}).dropna(subset=[price])[columns], label)


def _system(rows: pd.DataFrame, raw: pd.DataFrame, drivers: list[str], label: str) -> pd.DataFrame:
    """One row per hour: the mean of each driver over the points that report it (blanks ignored)."""
    values = pd.DataFrame({c: parse_numbers(raw.loc[rows.index, c], label, c, allow_missing=True) for c in drivers})
    by_hour = (
        values.assign(_row=rows.index)
        .groupby(rows["timestamp_utc"])
        .agg({**dict.fromkeys(drivers, "mean"), "_row": "min"})
    )
    stamps = pd.Series(by_hour.index, index=by_hour["_row"].to_numpy(), name="timestamp_utc")
    keys = timeutil.from_utc(stamps)
    frame = pd.concat([stamps, keys, by_hour[drivers].set_axis(stamps.index)], axis=1)
    return finish("system_conditions", frame[[*KEY_COLUMNS, *drivers]], label)

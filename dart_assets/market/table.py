"""Read one tidy market table (CSV or Parquet) that already has the project's layout.

For data that did not come as ERCOT report files (a vendor export, another team's warehouse): one row per
(UTC hour beginning, settlement point) with both prices and, optionally, system-wide driver columns: actuals
(schemas.DRIVER_ACTUALS) go to system_conditions, day-ahead forecasts (schemas.DRIVER_FORECASTS, system-wide and
regional) to driver_forecasts, stamped with the time they were published, forecast_posted_utc. The ERCOT clock
columns are derived from timestamp_utc, so the file cannot disagree with them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from dart_assets.market import schemas, timeutil
from dart_assets.market.ercot import (
    check_range,
    csv_cells,
    fail_first,
    finish,
    parquet_cells,
    parse_numbers,
    require_rows,
    select_points,
)
from dart_assets.market.schemas import (
    DAM_COLUMNS,
    DRIVER_ACTUALS,
    DRIVER_FORECASTS,
    POSTED_COLUMN,
    RTM_COLUMNS,
    MarketDataError,
)

REQUIRED = ["timestamp_utc", "settlement_point", "dam_price", "rtm_price"]
DERIVED = ["delivery_date", "hour_ending", "repeated_hour"]  # tolerated, ignored: recomputed from timestamp_utc
POSTED = "forecast_posted_utc"
OPTIONAL = [*DRIVER_ACTUALS, *DRIVER_FORECASTS, POSTED]


def read_table(path: str | Path, start: dt.date, end: dt.date, points: list[str]) -> dict[str, pd.DataFrame | None]:
    """The four market tables (schemas.MARKET_TABLES) for delivery dates start..end.

    Days without rows (a gap in the file) are simply absent; a requested point that appears nowhere in the file
    is an error. A blank price leaves that hour out of its own table only (e.g. an RTM price not settled yet);
    text is an error. Drivers are system-wide: where points disagree for an hour (and posting), the tables hold
    their mean over the points that report it. system_conditions is None without actual-driver columns,
    driver_forecasts empty without forecast columns.

    Forecast columns need forecast_posted_utc (UTC; naive values mean UTC). Whether a forecast may be used for a
    decision depends on when it was published, and any assumed time would either leak (too early) or hide the
    forecasts from every run (too late), so a table with forecasts but no posting time is refused, saying how to
    add it, rather than guessed.
    """
    path = Path(path)
    label = str(path)
    check_range(start, end, label)
    raw = _cells(path)
    _check_columns(raw, label)
    require_rows(raw, label)
    timestamps = _timestamps(raw["timestamp_utc"], label, "timestamp_utc", on_the_hour=True)
    rows = pd.concat([timestamps.rename("timestamp_utc"), timeutil.from_utc(timestamps)], axis=1)
    rows["settlement_point"] = raw["settlement_point"].astype(str).str.strip()
    fail_first(
        raw["settlement_point"],
        raw["settlement_point"].isna() | rows["settlement_point"].eq(""),
        label,
        "missing settlement_point",
    )
    _reject_duplicates(rows, label)

    priced = select_points(rows, "settlement_point", points, label)  # the whole file: a gap in the range is data
    in_range = rows["delivery_date"].between(pd.Timestamp(start), pd.Timestamp(end))
    rows, priced = rows[in_range], priced[in_range[priced.index]]
    actuals = [c for c in DRIVER_ACTUALS if c in raw]
    forecasts = [c for c in DRIVER_FORECASTS if c in raw]
    return {
        "dam_prices": _prices("dam_prices", priced, raw, DAM_COLUMNS, label),
        "rtm_prices": _prices("rtm_prices", priced, raw, RTM_COLUMNS, label),
        "system_conditions": _system(rows, raw, actuals, label) if actuals else None,
        "driver_forecasts": _forecasts(rows, raw, forecasts, label),
    }


def _cells(path: Path) -> pd.DataFrame:
    """The file's cells indexed by the row number the user sees (CSV: editor line; Parquet: 1-based row)."""
    if not path.is_file():
        raise MarketDataError(f"{path}: tidy table not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return csv_cells(path, str(path))
    if suffix in (".parquet", ".pq"):
        return parquet_cells(path, str(path))
    raise MarketDataError(f"{path}: a tidy table must be .csv or .parquet")


def _check_columns(raw: pd.DataFrame, label: str) -> None:
    missing = [c for c in REQUIRED if c not in raw]
    unknown = [c for c in raw if c not in {*REQUIRED, *DERIVED, *OPTIONAL}]
    if missing or unknown:
        problems = ([f"missing column(s) {missing}"] if missing else []) + (
            [f"unexpected column(s) {unknown}"] if unknown else []
        )
        raise MarketDataError(
            f"{label}: {'; '.join(problems)}; expected {REQUIRED} plus any of {OPTIONAL}, found {list(raw.columns)}"
        )


def _timestamps(values: pd.Series, label: str, column: str, on_the_hour: bool) -> pd.Series:
    """UTC times from datetimes or ISO 8601 text; naive values mean UTC. Numbers are not times (pandas would read
    them as nanoseconds since 1970)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
    else:
        times = values.map(lambda v: v if isinstance(v, (str, dt.datetime)) else None).astype(object)
        stamps = pd.to_datetime(times, utc=True, format="ISO8601", errors="coerce")
    fail_first(
        values,
        stamps.isna(),
        label,
        f"unparseable {column} {{value!r}} (expected ISO 8601 such as 2024-01-02T06:00:00Z)",
    )
    if on_the_hour:
        fail_first(
            values,
            stamps != stamps.dt.floor("h"),
            label,
            f"{column} {{value!r}} is not on the hour (expected the hour beginning)",
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


def _drivers(rows: pd.DataFrame, raw: pd.DataFrame, columns: list[str], label: str) -> pd.DataFrame:
    return pd.DataFrame({c: parse_numbers(raw.loc[rows.index, c], label, c, allow_missing=True) for c in columns})


def _system(rows: pd.DataFrame, raw: pd.DataFrame, actuals: list[str], label: str) -> pd.DataFrame:
    return finish("system_conditions", _by_hour(rows, _drivers(rows, raw, actuals, label), []), label)


def _forecasts(rows: pd.DataFrame, raw: pd.DataFrame, forecasts: list[str], label: str) -> pd.DataFrame:
    """One row per (hour, posting); rows whose forecast cells are all blank carry no forecast."""
    if not forecasts:
        return schemas.empty("driver_forecasts")
    if POSTED not in raw:
        raise MarketDataError(
            f"{label}: forecast column(s) {forecasts} need a {POSTED} column: the UTC time each forecast was "
            "published (e.g. 2024-03-09T15:55:36Z for ERCOT's posting of 09:55 CST the day before delivery), "
            "which decides whether a run may use it; add it, or drop the forecast columns"
        )
    values = _drivers(rows, raw, forecasts, label)
    carried = values.notna().any(axis=1)
    posted = raw.loc[rows.index, POSTED]
    blank = posted.isna() | posted.astype(str).str.strip().eq("")
    fail_first(posted, carried & blank, label, f"forecast values but no {POSTED}")
    rows, values = rows[carried], values[carried]
    stamps = _timestamps(posted[carried], label, POSTED, on_the_hour=False).rename(POSTED_COLUMN)
    return finish("driver_forecasts", _by_hour(rows, values, [stamps]), label)


def _by_hour(rows: pd.DataFrame, values: pd.DataFrame, keys: list[pd.Series]) -> pd.DataFrame:
    """One row per UTC hour (and further keys): each column's mean over the points that report it (blanks
    ignored), indexed by its first row in the file."""
    grouped = (
        values.assign(_row=rows.index)
        .groupby([rows["timestamp_utc"], *keys])
        .agg({**dict.fromkeys(values.columns, "mean"), "_row": "min"})
        .reset_index()
    )
    frame = grouped.set_index(grouped.pop("_row").to_numpy())
    clock = timeutil.from_utc(frame["timestamp_utc"])
    return pd.concat([frame[["timestamp_utc"]], clock, frame.drop(columns="timestamp_utc")], axis=1)

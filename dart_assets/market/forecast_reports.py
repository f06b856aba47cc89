"""ERCOT's own day-ahead forecasts of wind, solar and load, read from its report files into driver_forecasts.

Six reports, recognised by the report number in the file name (NP4-742-CD, np4742, WPPHRLYAVGACTGEONP4742, ...):

- NP4-732-CD wind, system-wide (MIS name cdr.00013028.*.WPPHRLYAVGACTNP4732): STWPF_SYSTEM_WIDE -> wind_forecast_mw
- NP4-742-CD wind by geographical region (cdr.00014787.*.WPPHRLYAVGACTGEONP4742): STWPF_SYSTEM_WIDE and
  STWPF_<REGION> -> wind_forecast_mw, wind_forecast_<region>_mw
- NP4-737-CD solar, system-wide (cdr.00013483.*.PVGRHRLYAVGACTNP4737): STPPF_SYSTEM_WIDE -> solar_forecast_mw
- NP4-745-CD solar by geographical region (cdr.00021809.*.PVGRHRLYAVGACTGEONP4745): STPPF_SYSTEM_WIDE and
  STPPF_<Region> -> solar_forecast_mw, solar_forecast_<region>_mw
- NP3-565-CD seven-day load forecast by model and weather zone (cdr.00014837.*.LFMODWEATHERNP3565): the rows of
  the model ERCOT marks InUseFlag Y; <Zone> and SystemTotal -> load_forecast_<zone>_mw, load_forecast_mw
- NP3-560-CD seven-day load forecast by forecast zone (cdr.00012311.*.LFCCONGESTNP3560): North, South, West,
  Houston and SystemTotal -> load_forecast_zone_<zone>_mw, load_forecast_mw

Two layouts of each, told apart by their columns (headers compare without case, spaces and underscores, so ERCOT's
STWPF_SYSTEM_WIDE and its API's STWPFSystemWide are the same column; other columns are ignored):
- MIS, as ercot.com serves each posting: one CSV (or a zip holding it) per posting, DELIVERY_DATE / DeliveryDate
  MM/DD/YYYY, HOUR_ENDING / HourEnding (1 or "01:00"), the values, DSTFlag Y on the repeated fall-back hour. The
  posting time is only in the file name, cdr.<type id>.0000000000000000.<YYYYMMDD>.<HHMMSS[mmm]>.<name>.csv, in
  Central prevailing time; ERCOT adds "xhr" to the names it posts in the second (standard-time) 1 a.m. hour of
  the fall-back day.
- ERCOT's public API (api.ercot.com/api/public-reports/<report>/...), saved as CSV or Parquet: any number of
  postings per file, postedDatetime (naive Central prevailing time; gridstatus's archive reader names it
  postDatetime), deliveryDate YYYY-MM-DD, hourEnding, camel-case values (STWPFWest, farWest, inUseFlag), DSTFlag
  when present.

Hour labels follow prices: hour beginning = delivery date + (HE - 1) h, Central. Per posting and delivery day, two
quirks of the API are read as ERCOT means them: on the spring-forward day the solar report labels the hour after
01:00 CST "03" where the wind report says "02" (a posting's 03 without a 02 is read as 02, so both land on the
day's 23 hours in order), and without DSTFlag the second HE 02 of a fall-back day is the repeated hour. Posting
times on the clock-change nights: an MIS stamp in the repeated 1 a.m. hour is daylight time unless the name has
"xhr"; an API postedDatetime there cannot be told apart and is read as the later (standard-time) instant; a time in
the skipped spring hour is moved to 03:00 CDT. Each errs late, so a forecast is never taken as known before it was
published.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dart_assets.market import ercot, schemas, timeutil
from dart_assets.market.schemas import MarketDataError


@dataclass(frozen=True)
class ForecastReport(ercot.Report):
    """A forecast report: its required headers (columns) plus whether to keep only ERCOT's in-use model."""

    in_use_only: bool = False

    @property
    def values(self) -> list[str]:
        """The driver_forecasts columns this report fills."""
        return [field for field in self.columns if field in schemas.DRIVER_FORECASTS]


DATE = ("DELIVERY_DATE", "DeliveryDate")
HOUR = ("HOUR_ENDING", "HourEnding")
DST = ("DSTFlag",)
POSTED = ("postedDatetime", "postDatetime")
IN_USE = ("InUseFlag",)
SUFFIXES = {".csv", ".zip", ".parquet"}
# A posting reaches from 2 days before its posting day (the 48 h of actuals) to 7 days after (168 h ahead); with a
# day's margin, a file whose name says it was posted outside start-8d..end+3d cannot hold rows for start..end.
REACH_BEFORE_START = pd.Timedelta(days=8)
REACH_AFTER_END = pd.Timedelta(days=3)
_STAMP = re.compile(r"(?<!\d)(\d{8})\.(\d{6})(\d{3})?(?!\d)")


def _report(code: str, title: str, values: dict[str, str], in_use_only: bool = False) -> ForecastReport:
    number = code.removesuffix("-CD").replace("-", "-?")  # NP4-742-CD -> np4-?742
    columns = {"date": DATE, "hour": HOUR, **({"in_use": IN_USE} if in_use_only else {})}
    columns |= {column: (header,) for header, column in values.items()}
    return ForecastReport(f"{title} ({code})", re.compile(number, re.IGNORECASE), columns, in_use_only)


_SOLAR_REGIONS = ("CenterWest", "NorthWest", "FarWest", "FarEast", "SouthEast", "CenterEast")
_WEATHER_ZONES = ("Coast", "East", "FarWest", "North", "NorthCentral", "SouthCentral", "Southern", "West")
REPORTS = (
    _report("NP4-732-CD", "wind power forecast STWPF, system-wide", {"STWPF_SYSTEM_WIDE": "wind_forecast_mw"}),
    _report(
        "NP4-742-CD",
        "wind power forecast STWPF by geographical region",
        {
            "STWPF_SYSTEM_WIDE": "wind_forecast_mw",
            **{f"STWPF_{region.upper()}": f"wind_forecast_{region}_mw" for region in schemas.WIND_REGIONS},
        },
    ),
    _report("NP4-737-CD", "solar power forecast STPPF, system-wide", {"STPPF_SYSTEM_WIDE": "solar_forecast_mw"}),
    _report(
        "NP4-745-CD",
        "solar power forecast STPPF by geographical region",
        {
            "STPPF_SYSTEM_WIDE": "solar_forecast_mw",
            **{f"STPPF_{region}": f"solar_forecast_{region.lower()}_mw" for region in _SOLAR_REGIONS},
        },
    ),
    _report(
        "NP3-565-CD",
        "seven-day load forecast by model and weather zone",
        {**{zone: f"load_forecast_{zone.lower()}_mw" for zone in _WEATHER_ZONES}, "SystemTotal": "load_forecast_mw"},
        in_use_only=True,
    ),
    _report(
        "NP3-560-CD",
        "seven-day load forecast by forecast zone",
        {
            **{zone.title(): f"load_forecast_zone_{zone}_mw" for zone in schemas.LOAD_FORECAST_ZONES},
            "SystemTotal": "load_forecast_mw",
        },
    ),
)
_LONG_KEY = ["column", "posted_utc", "date", "hour", "repeated"]


def read_folder(folder: str | Path, start: dt.date, end: dt.date) -> pd.DataFrame | None:
    """driver_forecasts for delivery dates start..end from every forecast posting in the folder; None when it holds
    no forecast report. Rows from overlapping files (a posting saved twice) are read once; the same posting with
    different values is an error naming both files."""
    ercot.check_range(start, end, str(folder))
    found = [(report, path) for report in REPORTS for path in ercot.find_files(folder, report, SUFFIXES)]
    if not found:
        return None
    parts = [
        _rows(report, raw, label, start, end, posting_time(label))
        for report, path in found
        if _may_cover(str(path), start, end)
        for label, raw in ercot.report_tables(path, start, end)
    ]
    return _table(parts, str(folder))


def posting_time(name: str) -> pd.Timestamp | None:
    """The UTC posting time in an MIS file name (the last <YYYYMMDD>.<HHMMSS[mmm]> stamp of its last path part,
    Central prevailing time), or None when the name carries none."""
    base = re.split(r"[\\/]", name)[-1]
    stamps = _STAMP.findall(base)
    if not stamps:
        return None
    day, clock, millis = stamps[-1]
    try:
        local = pd.Timestamp(dt.datetime.strptime(day + clock + (millis or "000"), "%Y%m%d%H%M%S%f"))
    except ValueError:
        raise MarketDataError(f"{name}: posting stamp {day}.{clock} in the file name is not a date and time") from None
    # "xhr" marks a posting in the second, standard-time 1 a.m. hour of the fall-back day (see gridstatus).
    return _central_to_utc(local, daylight="xhr" not in base.lower())


def _central_to_utc(local: pd.Timestamp, daylight: bool) -> pd.Timestamp:
    return local.tz_localize(timeutil.MARKET_TZ, ambiguous=daylight, nonexistent="shift_forward").tz_convert("UTC")


def _may_cover(path: str, start: dt.date, end: dt.date) -> bool:
    """False only for a file whose name says it was posted too long before start or after end to hold those days."""
    posted = posting_time(path)
    if posted is None:
        return True
    day = posted.tz_convert(timeutil.MARKET_TZ).tz_localize(None).normalize()
    return pd.Timestamp(start) - REACH_BEFORE_START <= day <= pd.Timestamp(end) + REACH_AFTER_END


def _rows(
    report: ForecastReport,
    raw: pd.DataFrame,
    label: str,
    start: dt.date,
    end: dt.date,
    posted: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One table of a forecast report -> long rows (column, value, posted_utc, date, hour, repeated, timestamp_utc,
    _label, _row) for delivery dates start..end; blank values are left out (that posting does not carry them)."""
    fields = ercot.header_fields(raw, label, report)
    posted_column, dst_column = _column(raw, POSTED), _column(raw, DST)
    if posted_column is None and posted is None:
        raise MarketDataError(
            f"{label}: cannot tell when this {report.title} was posted: no {' or '.join(POSTED)} column, and the file "
            "name lacks ERCOT's posting stamp <YYYYMMDD>.<HHMMSS> "
            "(e.g. cdr.00014787.0000000000000000.20240309.095535.WPPHRLYAVGACTGEONP4742.csv)"
        )
    date = ercot.parse_dates(fields["date"], label)
    keep = date.between(pd.Timestamp(start), pd.Timestamp(end))
    if report.in_use_only:
        keep &= ercot.flags(fields["in_use"], label, "in-use flag")
    fields = fields[keep]
    rows = pd.DataFrame(
        {"date": date[keep], "hour": ercot.whole_numbers(fields["hour"], label, "hour ending")}, index=fields.index
    )
    if posted_column is not None:
        rows["posted_utc"] = _posted(raw.loc[fields.index, posted_column], label)
    else:
        rows["posted_utc"] = pd.Series(posted, index=rows.index, dtype="datetime64[ns, UTC]")
    days = {day: timeutil.hours_in_day(day) for day in rows["date"].unique()}
    length = rows["date"].map(days)
    if dst_column is not None:
        rows["repeated"] = ercot.flags(raw.loc[fields.index, dst_column], label)
    else:  # the second HE 02 of a posting's fall-back day, in file order
        second = rows[rows["hour"] == 2].groupby(["posted_utc", "date"]).cumcount() >= 1
        rows["repeated"] = (length == 25) & second.reindex(rows.index, fill_value=False)
    has_two = (rows["hour"] == 2).groupby([rows["posted_utc"], rows["date"]]).transform("any")
    rows["hour"] = rows["hour"].mask((length == 23) & (rows["hour"] == 3) & ~has_two, 2)
    rows["timestamp_utc"] = ercot.utc_hours(rows, label)
    # errors name the file's own header; header_fields has already checked that each value column is there
    headers = {column: _column(raw, report.columns[column]) or column for column in report.values}
    values = pd.DataFrame(
        {
            column: ercot.parse_numbers(fields[column], label, headers[column], allow_missing=True)
            for column in report.values
        },
        index=rows.index,
    )
    long = rows.join(values).assign(_label=label, _row=rows.index)
    long = long.melt(id_vars=[*rows.columns, "_label", "_row"], var_name="column", value_name="value")
    return long.dropna(subset=["value"])


def _table(parts: list[pd.DataFrame], source: str) -> pd.DataFrame:
    """Long rows of any reports -> the validated driver_forecasts table, one row per (delivery hour, posting)."""
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if long.empty:
        return schemas.empty("driver_forecasts")
    long = ercot.drop_duplicates(long, _LONG_KEY, per_hour=1)
    keys = ["timestamp_utc", "posted_utc"]
    wide = long.pivot(index=keys, columns="column", values="value")
    origin = long.groupby(keys)[["_label", "_row"]].first().reindex(wide.index)
    frame = wide.reset_index()
    frame = pd.concat([frame, timeutil.from_utc(frame["timestamp_utc"])], axis=1)
    frame.index = origin["_label"].to_numpy() + ", row " + origin["_row"].astype(str).to_numpy()
    columns = [*schemas.FORECAST_KEY_COLUMNS, *(c for c in schemas.DRIVER_FORECASTS if c in wide)]
    return ercot.finish("driver_forecasts", frame[columns], source)


def _column(raw: pd.DataFrame, headers: tuple[str, ...]) -> str | None:
    """The raw column carrying one of the headers, compared as header keys."""
    keys = {ercot.header_key(h) for h in headers}
    return next((c for c in raw.columns if ercot.header_key(c) in keys), None)


def _posted(values: pd.Series, label: str) -> pd.Series:
    """UTC posting times from datetimes or ISO text; naive values are Central prevailing time, read as the later
    instant when ambiguous or skipped (see the module docstring). Each distinct value is converted once."""

    def convert(value) -> pd.Timestamp | None:
        try:
            if isinstance(value, str):  # ISO 8601 only: pd.Timestamp reads "02:00" as today and "0" as 1970
                stamp = pd.to_datetime(value.strip(), format="ISO8601")
            elif isinstance(value, dt.datetime):  # pd.Timestamp is one
                stamp = pd.Timestamp(value)
            else:
                return None
            if pd.isna(stamp):
                return None
            return _central_to_utc(stamp, daylight=False) if stamp.tz is None else stamp.tz_convert("UTC")
        except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
            return None

    if pd.api.types.is_datetime64_any_dtype(values):  # Parquet: typed, NaT where missing
        values = values.astype(object).where(values.notna(), None)
    stamps = values.map({value: convert(value) for value in values.unique()})
    what = "posting time {value!r} is not a date and time (expected e.g. 2024-03-09T09:55:35)"
    ercot.fail_first(values, stamps.isna(), label, what)
    return pd.to_datetime(stamps, utc=True).astype("datetime64[ns, UTC]")

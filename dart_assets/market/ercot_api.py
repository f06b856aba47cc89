"""Download ERCOT market data per delivery day through gridstatus, cached as Parquet (source name `ercot_api`).

Reports, by ERCOT's ids, and the table each feeds:
- NP4-190-CD DAM settlement point prices (hourly) -> dam_prices.
- NP6-905-CD RTM settlement point prices (15-minute) -> rtm_prices: the mean of the hour's four intervals (an hour
  without all four, e.g. the hour in progress, is left out); load zones keep their LZ price, not the LZEW one.
- NP4-742-CD wind (STWPF, system-wide and five regions), NP4-745-CD solar (STPPF, system-wide and six regions) and
  NP3-565-CD load (the model ERCOT flags in use, eight weather zones and the system total) -> driver_forecasts,
  one row per delivery hour and posting, stamped with the posting time.
- system_conditions (actual drivers) stays empty: none of these reports is an actual.

Which client reads a delivery day D (Central calendar): D >= today - recent_days (default: yesterday onwards)
comes from ERCOT's MIS postings through `gridstatus.Ercot`, which needs no key but lists only a few days of
documents; older days come from the public API's archive through `gridstatus.ErcotAPI`, which needs
ERCOT_API_USERNAME, ERCOT_API_PASSWORD and ERCOT_PUBLIC_API_SUBSCRIPTION_KEY and filters by posting time.

Forecast postings kept for D: every posting published in [D-2 18:00, D-1 10:00) Central. A decision time for D is
on D-1 before the DAM closes at 10:00, so this holds every posting such a decision can use: all of D-1's morning
postings and the six hours before, which include the latest posting before midnight (the three reports are posted
hourly). Features pick, per column, the latest kept posting at or before their decision time.

Cache: one Parquet file per (report, delivery day) under the cache folder (<report id>/<day>.parquet), holding
gridstatus's rows for that day (timestamps in UTC), written to a temporary name and renamed, only once the day is
final, so a re-run or backfill of those days makes no request. Final means: complete (DAM: the day's posting is
there; RTM: all 4 x hours intervals are there), or the day's publication window has closed (DAM: D 00:00, RTM:
D+1 02:00, forecasts: D-1 11:00 Central) and the answer came from the API archive, ERCOT's long-term store, or is a
non-empty set of forecast postings. A day still in progress, or an empty or incomplete MIS answer after the window
(MIS may simply have dropped it), is returned but not written, so the next run asks again. A final day with no
data is a gap: written as an empty file, returned as no rows, never an exception. Price corrections ERCOT posts
after a day was cached are not picked up.

Failures: HTTP 429, 5xx, timeouts and connection errors are retried per request with exponential backoff
(RetryPolicy); a rejected sign-in or key (400 from the token endpoint, 401/403 from the API) fails at once naming
the variable(s) to fix; a day whose window is still open and has nothing yet fails with NotPublishedYetError naming
report and day (after caching everything that is final). Secrets never reach a message, a log line or a file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import requests
from upath import UPath

from dart_assets.market import schemas, timeutil
from dart_assets.market.ercot import INTERVALS_PER_HOUR, finish
from dart_assets.market.schemas import MarketDataError
from dart_assets.market.timeutil import MARKET_TZ

if TYPE_CHECKING:
    from gridstatus import Ercot

SOURCE = "ercot_api"
USERNAME_VAR = "ERCOT_API_USERNAME"
PASSWORD_VAR = "ERCOT_API_PASSWORD"
KEY_VAR = "ERCOT_PUBLIC_API_SUBSCRIPTION_KEY"
API_HOST = "api.ercot.com"
CACHE_VERSION = 1
_META_KEY = b"dart_assets.ercot_api"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ENERGY_WEIGHTED = ("LZEW", "LZ_DCEW")  # RTM load-zone prices weighted by energy; the plain LZ price is the one

log = logging.getLogger(__name__)


class ErcotDownloadError(RuntimeError):
    """A download from ERCOT failed; the message names the report, the delivery days and what to do."""


class ErcotCredentialsError(ErcotDownloadError):
    """ERCOT's public API credentials are missing or were rejected; the message names the variables, never values."""


class NotPublishedYetError(ErcotDownloadError):
    """ERCOT has not published a report for a delivery day yet (its publication window is still open)."""


@dataclass(frozen=True)
class ApiCredentials:
    """Sign-in for ERCOT's public API. Values never appear in repr, logs or messages; the variable names do."""

    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    subscription_key: str | None = field(default=None, repr=False)
    username_var: str = USERNAME_VAR
    password_var: str = PASSWORD_VAR
    subscription_key_var: str = KEY_VAR

    @property
    def variables(self) -> str:
        return f"{self.username_var}, {self.password_var} and {self.subscription_key_var}"

    def missing(self) -> list[str]:
        values = {
            self.username_var: self.username,
            self.password_var: self.password,
            self.subscription_key_var: self.subscription_key,
        }
        return [name for name, value in values.items() if not value]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for transient failures: attempt n waits base_delay * 2**(n-1), at most max_delay, or
    what a 429's Retry-After asks (capped the same way)."""

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        backoff = self.base_delay * 2 ** (attempt - 1)
        return min(self.max_delay, max(backoff, retry_after or 0.0))


# --------------------------------------------------------------------------------------------------------- reports


def _at(day: dt.date, days: int, hours: int) -> pd.Timestamp:
    """Central wall-clock time `hours` after midnight of day + days."""
    naive = pd.Timestamp(day) + pd.Timedelta(days=days, hours=hours)
    return naive.tz_localize(MARKET_TZ, ambiguous=True, nonexistent="shift_forward")


@dataclass(frozen=True)
class Report:
    """One ERCOT report: where it is listed, when it is posted and when a delivery day of it is final."""

    code: str  # ERCOT's report id
    title: str
    kind: str  # dam | rtm | wind | solar | load
    expected: str  # when ERCOT publishes it, for "not published yet" messages; {before} = D-1, {day} = D
    mis_type: int  # MIS reportTypeId (www.ercot.com/misapp/servlets/IceDocListJsonWS?reportTypeId=...)
    api_endpoint: str  # public API data product; its archive is api.ercot.com/api/public-reports/archive/<emil id>

    @property
    def slug(self) -> str:
        return self.code.lower()

    @property
    def forecast(self) -> bool:
        return self.kind in ("wind", "solar", "load")

    @property
    def table(self) -> str:
        return {"dam": "dam_prices", "rtm": "rtm_prices"}.get(self.kind, "driver_forecasts")

    def posting_window(self, first: dt.date, last: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Posting times [start, end) that hold delivery days first..last (API archive and MIS listings)."""
        if self.kind == "dam":  # the DAM for D clears and posts on D-1
            return _at(first, -1, 0), _at(last, 0, 0)
        if self.kind == "rtm":  # each interval posts minutes after it ends; the day's last one just after midnight
            return _at(first, 0, 0), _at(last, 1, 2)
        return _at(first, -2, 18), _at(last, -1, 10)

    def closes(self, day: dt.date) -> pd.Timestamp:
        """After this, nothing more for `day` will be posted: no data then is a gap, not 'not published yet'."""
        if self.kind == "dam":
            return _at(day, 0, 0)
        if self.kind == "rtm":
            return _at(day, 1, 2)
        return _at(day, -1, 11)  # the last kept posting is before D-1 10:00; listings lag by minutes

    def complete(self, day: dt.date, rows: pd.DataFrame) -> bool:
        if self.kind == "dam":
            return not rows.empty
        if self.kind == "rtm":
            intervals = INTERVALS_PER_HOUR * timeutil.hours_in_day(day)
            return not rows.empty and rows["Interval Start"].nunique() == intervals
        return False  # a forecast window can gain postings until it closes


DAM = Report(
    code="NP4-190-CD",
    title="DAM settlement point prices",
    kind="dam",
    expected="after the day-ahead market for {day} clears on {before} (about 13:30 Central)",
    mis_type=12331,
    api_endpoint="/np4-190-cd/dam_stlmnt_pnt_prices",
)
RTM = Report(
    code="NP6-905-CD",
    title="RTM settlement point prices",
    kind="rtm",
    expected="as the 15-minute intervals of {day} settle, from {day} 00:15 Central",
    mis_type=12301,
    api_endpoint="/np6-905-cd/spp_node_zone_hub",
)
_HOURLY = "hourly; the postings kept for {day} are those of {before} before 10:00 Central and the six hours before"
WIND = Report(
    code="NP4-742-CD",
    title="wind power forecast by region (STWPF)",
    kind="wind",
    expected=_HOURLY,
    mis_type=14787,
    api_endpoint="/np4-742-cd/wpp_hrly_actual_fcast_geo",
)
SOLAR = Report(
    code="NP4-745-CD",
    title="solar power forecast by region (STPPF)",
    kind="solar",
    expected=_HOURLY,
    mis_type=21809,
    api_endpoint="/np4-745-cd/spp_hrly_actual_fcast_geo",
)
LOAD = Report(
    code="NP3-565-CD",
    title="seven-day load forecast by model and weather zone",
    kind="load",
    expected=_HOURLY,
    mis_type=14837,
    api_endpoint="/np3-565-cd/lf_by_model_weather_zone",
)
REPORTS = (DAM, RTM, WIND, SOLAR, LOAD)

# gridstatus's column names -> the driver_forecasts columns (schemas.DRIVER_FORECASTS)
WIND_COLUMNS = {
    "STWPF SYSTEM WIDE": "wind_forecast_mw",
    **{f"STWPF {region.upper()}": f"wind_forecast_{region}_mw" for region in schemas.WIND_REGIONS},
}
SOLAR_COLUMNS = {
    "STPPF SYSTEM WIDE": "solar_forecast_mw",
    **{
        f"STPPF {name}": f"solar_forecast_{name.lower()}_mw"
        for name in ("CenterWest", "NorthWest", "FarWest", "FarEast", "SouthEast", "CenterEast")
    },
}
LOAD_COLUMNS = {
    "System Total": "load_forecast_mw",
    **{
        zone: f"load_forecast_{zone.lower().replace(' ', '')}_mw"
        for zone in ("Coast", "East", "Far West", "North", "North Central", "South Central", "Southern", "West")
    },
}
FORECAST_COLUMNS = [*WIND_COLUMNS.values(), *SOLAR_COLUMNS.values(), *LOAD_COLUMNS.values()]
_PRICE_COLUMNS = {
    "dam": ["Interval Start", "Interval End", "SettlementPoint", "SettlementPointPrice", "Publish Time"],
    "rtm": [
        "Interval Start",
        "Interval End",
        "SettlementPointName",
        "SettlementPointType",
        "SettlementPointPrice",
        "Publish Time",
    ],
}


@cache
def _columns(kind: str) -> list[str]:
    """The columns cached per report: gridstatus's own output columns for the forecast reports."""
    from gridstatus.ercot_constants import (
        LOAD_FORECAST_BY_MODEL_COLUMNS,
        SOLAR_ACTUAL_AND_FORECAST_BY_GEOGRAPHICAL_REGION_COLUMNS,
        WIND_ACTUAL_AND_FORECAST_BY_GEOGRAPHICAL_REGION_COLUMNS,
    )

    return {
        "wind": WIND_ACTUAL_AND_FORECAST_BY_GEOGRAPHICAL_REGION_COLUMNS,
        "solar": SOLAR_ACTUAL_AND_FORECAST_BY_GEOGRAPHICAL_REGION_COLUMNS,
        "load": LOAD_FORECAST_BY_MODEL_COLUMNS,
        **_PRICE_COLUMNS,
    }[kind]


# ------------------------------------------------------------------------------------------------------------ HTTP


class _Session(requests.Session):
    """Every request to ERCOT: a timeout, retries with backoff on 429/5xx/timeouts/connection errors, and any other
    HTTP error raised at once (requests.HTTPError) so a rejected key is never retried."""

    def __init__(self, retry: RetryPolicy, timeout: tuple[float, float], sleep: Callable[[float], None]):
        super().__init__()
        self.retry, self.timeout, self.sleep = retry, timeout, sleep

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(1, self.retry.attempts):
            response, problem, retry_after = self._attempt(method, url, *args, **kwargs)
            if response is not None:
                return response
            delay = self.retry.delay(attempt, retry_after)
            log.warning(
                "ERCOT %s %s: %s; retry %d of %d in %.1f s",
                method,
                _short(url),
                problem,
                attempt,
                self.retry.attempts - 1,
                delay,
            )
            self.sleep(delay)
        response, problem, _ = self._attempt(method, url, *args, **kwargs)
        if response is not None:
            return response
        raise ErcotDownloadError(
            f"{method} {_short(url)} failed {self.retry.attempts} time(s), last with {problem}; ERCOT may be down "
            "or rate-limiting: run again later"
        )

    def _attempt(self, method, url, *args, **kwargs) -> tuple[requests.Response | None, str, float | None]:
        """(response, "", None) on success; (None, problem, Retry-After seconds) on a transient failure."""
        try:
            response = super().request(method, url, *args, **kwargs)
        except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            return None, type(exc).__name__, None
        if response.status_code in RETRY_STATUSES:
            return None, f"HTTP {response.status_code}", _seconds(response.headers.get("Retry-After"))
        response.raise_for_status()
        return response, "", None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff applies


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


@cache
def _session_api_class():
    """gridstatus's ErcotAPI sending every call through our session (imported lazily: gridstatus loads slowly)."""
    from gridstatus.ercot_api.ercot_api import TOKEN_EXPIRATION_SECONDS, APITypeEnum, ErcotAPI

    class SessionErcotAPI(ErcotAPI):
        """One attempt per call through the source's session, which retries and raises typed HTTP errors.

        gridstatus 0.37's own make_api_call retries only 429 and read timeouts (with at least 0.1 s of sleep),
        turns them into a bare RuntimeError, and reports every token failure as "Failed to obtain token", so a
        rejected password could not be told from an outage.
        """

        session: requests.Session

        def get_token(self) -> None:
            response = self.session.post(
                self.token_url,
                data={
                    "grant_type": "password",
                    "username": self.username,
                    "password": self.password,
                    "response_type": "id_token",
                    "scope": f"openid {self.client_id} offline_access",
                    "client_id": self.client_id,
                },
            )
            token = response.json().get("id_token")
            if not token:
                raise ErcotCredentialsError("ERCOT's sign-in returned no token")
            # gridstatus's __init__ sets token_expiry = None and never annotates it, so mypy infers the type None
            self.token, self.token_expiry = token, time.time() + TOKEN_EXPIRATION_SECONDS  # type: ignore[assignment]

        def make_api_call(self, url, api_params=None, parse_json=True, method="GET", api=APITypeEnum.PUBLIC_API):
            payload = {"json": api_params} if method == "POST" else {"params": api_params}
            response = self.session.request(method, url, headers=self.headers(api=api), **payload)
            return response.json() if parse_json else response.content

    return SessionErcotAPI


# ---------------------------------------------------------------------------------------------------------- source


class ErcotApiSource:
    """The four market tables for delivery days start..end, downloaded from ERCOT and cached per (report, day).

    `transport` (a requests adapter) replaces the network in tests; `clock` returns the current UTC time.
    """

    name = SOURCE

    def __init__(
        self,
        cache_dir: str | PathLike | UPath,
        credentials: ApiCredentials | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 120.0),
        recent_days: int = 1,
        chunk_days: int = 7,
        transport: requests.adapters.BaseAdapter | None = None,
        clock: Callable[[], pd.Timestamp] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if recent_days < 0 or chunk_days < 1:
            raise ValueError("recent_days must be >= 0 and chunk_days >= 1")
        self.cache = cache_dir if isinstance(cache_dir, UPath) else UPath(cache_dir)
        self.credentials = credentials or ApiCredentials()
        self.recent_days, self.chunk_days = recent_days, chunk_days
        self.clock = clock or (lambda: pd.Timestamp.now(tz="UTC"))
        self.session = _Session(retry or RetryPolicy(), timeout, sleep)
        if transport is not None:
            self.session.mount("https://", transport)
            self.session.mount("http://", transport)
        self._api = None
        self._mis: Ercot | None = None

    def __repr__(self) -> str:
        return f"ErcotApiSource(cache={str(self.cache)!r}, credentials={self.credentials!r})"

    @property
    def label(self) -> str:
        return f"{SOURCE} ({self.cache})"

    def read(
        self,
        start: dt.date,
        end: dt.date,
        points: Iterable[str],
        tables: Iterable[str] = schemas.MARKET_TABLES,
    ) -> dict[str, pd.DataFrame]:
        """The requested market tables (default all four), validated; see the module doc.

        Only the reports those tables need are read, so tomorrow's driver_forecasts can be read on the morning
        before ERCOT has posted tomorrow's prices.
        """
        tables = list(tables)
        unknown = [t for t in tables if t not in schemas.MARKET_TABLES]
        if unknown:
            raise ValueError(f"{SOURCE}: unknown table(s) {unknown}; choose from {list(schemas.MARKET_TABLES)}")
        days = [d.date() for d in pd.date_range(start, end, freq="D")]
        points = list(points)
        now = pd.Timestamp(self.clock()).tz_convert("UTC")
        raw: dict[str, dict[dt.date, pd.DataFrame]] = {}
        waiting: list[str] = []
        for report in REPORTS:
            if report.table not in tables:
                continue
            raw[report.kind], late = self._report_days(report, days, now)
            waiting += [
                f"{report.code} ({report.title}) for delivery day {day}, expected "
                + report.expected.format(day=day, before=day - dt.timedelta(days=1))
                for day in late
            ]
        if waiting:
            raise NotPublishedYetError(
                f"{SOURCE}: ERCOT has not published yet (as of {now.tz_convert(MARKET_TZ):%Y-%m-%d %H:%M} Central):"
                "\n  " + "\n  ".join(waiting) + "\nRun again after that; what was already published is cached."
            )
        build = {
            "dam_prices": lambda: _dam_table(raw["dam"], points, self.label),
            "rtm_prices": lambda: _rtm_table(raw["rtm"], points, self.label),
            "system_conditions": lambda: schemas.validate(
                "system_conditions", schemas.empty("system_conditions"), self.label
            ),
            "driver_forecasts": lambda: _forecast_table(raw["wind"], raw["solar"], raw["load"], self.label),
        }
        return {table: build[table]() for table in tables}

    # ------------------------------------------------------------------------------------------ per report and day

    def _report_days(
        self, report: Report, days: list[dt.date], now: pd.Timestamp
    ) -> tuple[dict[dt.date, pd.DataFrame], list[dt.date]]:
        """Rows per day (cached or fetched) and the days not published yet."""
        frames = {day: frame for day in days if (frame := self._read_cache(report, day)) is not None}
        missing = [d for d in days if d not in frames]
        oldest_recent = now.tz_convert(MARKET_TZ).date() - dt.timedelta(days=self.recent_days)
        history = [d for d in missing if d < oldest_recent]
        if history and (absent := self.credentials.missing()):
            raise ErcotCredentialsError(
                f"{SOURCE}: {report.code} for delivery day(s) {_span(history)} is history (before {oldest_recent}) "
                f"that only ERCOT's public API serves, and {', '.join(absent)} {'is' if len(absent) == 1 else 'are'} "
                f"not set. Set {self.credentials.variables} (see the README: ERCOT API key)."
            )
        late = []
        for client, group in (("api", history), ("mis", [d for d in missing if d >= oldest_recent])):
            for run in _runs(group, self.chunk_days):
                fetched = self._fetch(report, client, run)
                for day in run:
                    rows = _rows_of_day(report, fetched, day)
                    complete, closed = report.complete(day, rows), now >= report.closes(day)
                    if rows.empty and not (complete or closed):
                        late.append(day)
                        continue
                    frames[day] = rows
                    if complete or (closed and (client == "api" or (report.forecast and not rows.empty))):
                        self._write_cache(report, day, rows, client, now)
        return frames, late

    def _fetch(self, report: Report, client: str, run: list[dt.date]) -> pd.DataFrame:
        """gridstatus's rows for a run of consecutive days, timestamps in UTC; no rows when ERCOT lists nothing."""
        from gridstatus.base import NoDataFoundException

        what = f"{SOURCE}: {report.code} ({report.title}) for delivery day(s) {_span(run)}"
        log.info("%s: downloading through %s", what, "ErcotAPI" if client == "api" else "Ercot (MIS)")
        try:
            frame = self._fetch_api(report, run) if client == "api" else self._fetch_mis(report, run)
        except NoDataFoundException:
            return pd.DataFrame(columns=_columns(report.kind))
        except requests.HTTPError as exc:
            raise self._http_error(exc, what) from None
        except ErcotCredentialsError as exc:  # the sign-in answered without a token
            creds = self.credentials
            raise ErcotCredentialsError(f"{what}: {exc}; check {creds.username_var} and {creds.password_var}") from None
        except ErcotDownloadError as exc:
            raise type(exc)(f"{what}: {exc}") from None
        except (KeyError, ValueError, AssertionError, zipfile.BadZipFile) as exc:
            raise MarketDataError(f"{what}: ERCOT's answer could not be read ({_problem(exc)})") from None
        try:
            frame = frame[_columns(report.kind)].reset_index(drop=True)
        except KeyError as exc:
            raise MarketDataError(f"{what}: ERCOT's answer lacks column(s) {exc}") from None
        for column in ("Interval Start", "Interval End", "Publish Time"):
            try:
                frame[column] = pd.to_datetime(frame[column]).dt.tz_convert("UTC")
            except (ValueError, TypeError, AttributeError) as exc:  # text, or times without a UTC offset
                raise MarketDataError(f"{what}: ERCOT's answer has unreadable {column!r} ({_problem(exc)})") from None
        return frame

    def _fetch_api(self, report: Report, run: list[dt.date]) -> pd.DataFrame:
        api = self._api_client()
        start, end = report.posting_window(run[0], run[-1])
        if report.kind in ("dam", "rtm"):
            data = api.get_historical_data(report.api_endpoint, start_date=start, end_date=end, add_post_datetime=True)
            frame = self._mis_client().parse_doc(data)
            posted = pd.to_datetime(frame["postDatetime"])
            return frame.assign(**{"Publish Time": posted.dt.tz_localize(MARKET_TZ, ambiguous=True)})
        if report.kind == "load":
            return api.get_load_forecast_by_model(date=start, end=end, error="raise")
        # The public wind/solar getters swallow errors over a date range (support_date_range's error="ignore");
        # the decorated methods behind them take error="raise".
        fetch = (
            api._get_wind_actual_and_forecast_hourly
            if report.kind == "wind"
            else api._get_solar_actual_and_forecast_hourly
        )
        return fetch(endpoint=report.api_endpoint, date=start, end=end, columns=_columns(report.kind), error="raise")

    def _fetch_mis(self, report: Report, run: list[dt.date]) -> pd.DataFrame:
        ercot = self._mis_client()
        start, end = report.posting_window(run[0], run[-1])
        if report.kind == "rtm":  # MIS names each interval's file by its end time: select by that, like gridstatus
            docs = ercot._get_documents(
                report_type_id=report.mis_type,
                friendly_name_timestamp_after=_at(run[0], 0, 0),
                friendly_name_timestamp_before=_at(run[-1], 1, 0),
                constructed_name_contains="csv.zip",
                session=self.session,
            )
        else:
            docs = ercot._get_documents(
                report_type_id=report.mis_type,
                published_after=start - pd.Timedelta(seconds=1),  # gridstatus compares strictly
                published_before=end - pd.Timedelta(seconds=1),
                constructed_name_contains="csv.zip",
                session=self.session,
            )
        parts = []
        for doc in docs:
            frame = ercot.read_doc(doc, session=self.session)
            frame["Publish Time"] = doc.publish_date
            if report.kind in ("wind", "solar"):  # what Ercot._handle_hourly_wind_or_solar_report does after reading
                frame.columns = frame.columns.str.replace("_", " ")
                frame = ercot._rename_hourly_wind_or_solar_report(frame)
            elif report.kind == "load":
                frame = ercot._handle_load_forecast_by_model(frame)
            parts.append(frame)
        return pd.concat(parts, ignore_index=True)

    def _api_client(self):
        if self._api is None:
            creds = self.credentials
            api = _session_api_class()(
                username=creds.username,
                password=creds.password,
                public_subscription_key=creds.subscription_key,
                max_retries=0,
            )
            api.session = self.session
            self._api = api
        return self._api

    def _mis_client(self):
        if self._mis is None:
            from gridstatus import Ercot

            self._mis = Ercot()
        return self._mis

    def _http_error(self, exc: requests.HTTPError, what: str) -> ErcotDownloadError:
        from gridstatus.ercot_api.ercot_api import TOKEN_URL

        response = exc.response
        status = response.status_code if response is not None else None
        url = response.url if response is not None else ""
        if not url and exc.request is not None and isinstance(exc.request.url, str):
            url = exc.request.url
        creds = self.credentials
        if url.startswith(TOKEN_URL) and status in (400, 401, 403):
            return ErcotCredentialsError(
                f"{what}: ERCOT's sign-in rejected the username or password (HTTP {status}); "
                f"check {creds.username_var} and {creds.password_var}"
            )
        if response is not None and urlsplit(url).hostname == API_HOST and status in (401, 403):
            key_first = "subscription key" in (response.text or "").lower()
            names = (
                f"{creds.subscription_key_var} (your api.ercot.com subscription key)"
                if key_first
                else f"{creds.subscription_key_var}, {creds.username_var} and {creds.password_var}"
            )
            return ErcotCredentialsError(
                f"{what}: ERCOT's public API rejected the request (HTTP {status}); check {names}"
            )
        return ErcotDownloadError(f"{what}: ERCOT answered HTTP {status} for {_short(url)}")

    # ------------------------------------------------------------------------------------------------------- cache

    def _path(self, report: Report, day: dt.date) -> UPath:
        return self.cache / report.slug / f"{day.isoformat()}.parquet"

    def _read_cache(self, report: Report, day: dt.date) -> pd.DataFrame | None:
        path = self._path(report, day)
        if not path.exists():
            return None
        try:
            with path.open("rb") as handle:
                table = pq.read_table(handle)
        except (OSError, pa.ArrowInvalid) as exc:
            log.warning("%s: unreadable cache file (%s); downloading the day again", path, exc)
            return None
        meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
        if meta.get("version") != CACHE_VERSION or meta.get("report") != report.code:
            log.warning("%s: cache file of another layout (%s); downloading the day again", path, meta)
            return None
        return table.to_pandas()

    def _write_cache(self, report: Report, day: dt.date, rows: pd.DataFrame, client: str, now: pd.Timestamp) -> None:
        meta = {
            "version": CACHE_VERSION,
            "report": report.code,
            "delivery_date": day.isoformat(),
            "client": "ErcotAPI" if client == "api" else "Ercot (MIS)",
            "fetched_utc": now.isoformat(),
            "rows": len(rows),
        }
        table = pa.Table.from_pandas(rows, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        path = self._path(report, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        fs = path.fs
        try:
            fs.pipe_file(temporary.path, sink.getvalue().to_pybytes())
            fs.mv(temporary.path, path.path)
        finally:
            if fs.exists(temporary.path):
                fs.rm(temporary.path)


# ------------------------------------------------------------------------------------------------- day splitting


def _runs(days: list[dt.date], size: int) -> list[list[dt.date]]:
    """Consecutive days in runs of at most `size`: one download per run."""
    runs: list[list[dt.date]] = []
    for day in sorted(days):
        if runs and len(runs[-1]) < size and day - runs[-1][-1] == dt.timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _span(days: list[dt.date]) -> str:
    return f"{days[0]}" if len(days) == 1 else f"{days[0]}..{days[-1]}"


def _rows_of_day(report: Report, frame: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The rows delivering in `day` (Central); for forecasts only the postings kept for it (see the module doc)."""
    if frame.empty:
        return frame.iloc[0:0]
    keep = frame["Interval Start"].dt.tz_convert(MARKET_TZ).dt.date == day
    if report.forecast:
        start, end = report.posting_window(day, day)
        keep &= (frame["Publish Time"] >= start) & (frame["Publish Time"] < end)
    return frame[keep].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------------- the tables


def _problem(exc: Exception) -> str:
    """An exception in one line; for a bare assertion inside gridstatus, the assertion it failed."""
    text = str(exc).strip()
    if text:  # pandas appends advice on further lines (and after "You might want to try")
        return f"{type(exc).__name__}: {text.splitlines()[0].split(' You might want to try')[0]}"
    frames = traceback.extract_tb(exc.__traceback__)
    failed = f" {frames[-1].line!r} in {Path(frames[-1].filename).name}" if frames and frames[-1].line else ""
    return f"{type(exc).__name__}{failed}"


def _numbers(rows: pd.DataFrame, column: str, label: str, code: str, allow_missing: bool = False) -> pd.Series:
    """Floats from a column of ERCOT's answer; text (or, unless allowed, a blank) is an error naming the report,
    the interval and the settlement point."""
    values = rows[column]
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = (numbers.isna() & values.notna()) if allow_missing else numbers.isna()
    if bad.any():
        row = rows.iloc[int(bad.to_numpy().argmax())]
        point = next((f" for {row[c]}" for c in ("SettlementPoint", "SettlementPointName") if c in row), "")
        start = pd.Timestamp(row["Interval Start"]).tz_convert(MARKET_TZ)
        problem = "is missing" if pd.isna(row[column]) else f"{row[column]!r} is not a number"
        raise MarketDataError(
            f"{label}: {code} {column}{point} in the interval starting {start:%Y-%m-%d %H:%M %Z} {problem}"
        )
    return numbers


def _origin(frame: pd.DataFrame, code: str) -> pd.Index:
    """Row labels naming report, delivery day, hour and point, so a validation error says where to look."""
    repeated = frame["repeated_hour"].map({True: " (repeated)", False: ""})
    return pd.Index(
        f"{code} "
        + frame["delivery_date"].dt.strftime("%Y-%m-%d")
        + " hour ending "
        + frame["hour_ending"].astype(str).str.zfill(2)
        + repeated
        + " "
        + frame["settlement_point"].astype(str)
    )


def _nonempty(frames: dict[dt.date, pd.DataFrame]) -> pd.DataFrame | None:
    parts = [frames[day] for day in sorted(frames) if not frames[day].empty]
    return pd.concat(parts, ignore_index=True) if parts else None


def _keys(starts: pd.Series) -> pd.DataFrame:
    """timestamp_utc and ERCOT's delivery-day clock for UTC hour beginnings."""
    stamps = pd.to_datetime(starts).dt.tz_convert("UTC").astype("datetime64[ns, UTC]").rename("timestamp_utc")
    return pd.concat([stamps, timeutil.from_utc(stamps)], axis=1)


def _latest(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """One row per key: the one from the latest posting (ERCOT re-posts an interval as a *_retry file)."""
    return rows.sort_values("Publish Time", kind="stable").drop_duplicates(key, keep="last")


def _points(rows: pd.DataFrame, column: str, points: list[str], label: str, code: str) -> pd.DataFrame:
    """Rows of the requested settlement points; a point absent from ERCOT's data is a configuration error."""
    available = set(rows[column].unique())
    missing = [p for p in points if p not in available]
    if missing:
        hubs_and_zones = sorted(p for p in available if str(p).startswith(("HB_", "LZ_")))
        raise MarketDataError(
            f"{label}: settlement point(s) {missing} not in ERCOT's {code} for the requested days; "
            f"hubs and load zones there: {hubs_and_zones}"
        )
    return rows[rows[column].isin(points)]


def _dam_table(frames: dict[dt.date, pd.DataFrame], points: list[str], label: str) -> pd.DataFrame:
    rows = _nonempty(frames)
    if rows is None:
        return schemas.validate("dam_prices", schemas.empty("dam_prices"), label)
    rows = _latest(_points(rows, "SettlementPoint", points, label, DAM.code), ["SettlementPoint", "Interval Start"])
    frame = _keys(rows["Interval Start"]).assign(
        settlement_point=rows["SettlementPoint"].astype(str),
        dam_price=_numbers(rows, "SettlementPointPrice", label, DAM.code),
    )
    return finish("dam_prices", frame[schemas.DAM_COLUMNS].set_axis(_origin(frame, DAM.code)), label)


def _rtm_table(frames: dict[dt.date, pd.DataFrame], points: list[str], label: str) -> pd.DataFrame:
    rows = _nonempty(frames)
    if rows is None:
        return schemas.validate("rtm_prices", schemas.empty("rtm_prices"), label)
    rows = rows[~rows["SettlementPointType"].isin(ENERGY_WEIGHTED)]
    rows = _points(rows, "SettlementPointName", points, label, RTM.code)
    rows = _latest(rows, ["SettlementPointName", "Interval Start"])
    rows = rows.assign(SettlementPointPrice=_numbers(rows, "SettlementPointPrice", label, RTM.code))
    hours = (
        rows.groupby([rows["SettlementPointName"].astype(str), rows["Interval Start"].dt.floor("h")])[
            "SettlementPointPrice"
        ]
        .agg(["mean", "size"])
        .reset_index()
    )
    short = hours["size"] < INTERVALS_PER_HOUR
    if short.any():
        log.info("%s: %d point-hour(s) without all four RTM intervals left out (not settled yet)", label, short.sum())
    hours = hours[~short].reset_index(drop=True)
    frame = _keys(hours["Interval Start"]).assign(
        settlement_point=hours["SettlementPointName"], rtm_price=hours["mean"].astype("float64")
    )
    return finish("rtm_prices", frame[schemas.RTM_COLUMNS].set_axis(_origin(frame, RTM.code)), label)


def _forecast_rows(
    frames: dict[dt.date, pd.DataFrame], columns: dict[str, str], label: str, code: str
) -> pd.DataFrame | None:
    """One row per (interval, posting) with the driver_forecasts columns; a blank is a value the posting lacks."""
    rows = _nonempty(frames)
    if rows is None:
        return None
    values = pd.DataFrame(
        {new: _numbers(rows, old, label, code, allow_missing=True) for old, new in columns.items()}, index=rows.index
    )
    return pd.concat(
        [
            rows["Interval Start"].rename("timestamp_utc"),
            rows["Publish Time"].rename(schemas.POSTED_COLUMN),
            values,
        ],
        axis=1,
    )


def _in_use(frames: dict[dt.date, pd.DataFrame], label: str) -> dict[dt.date, pd.DataFrame]:
    """NP3-565-CD carries every model's forecast; ERCOT flags the one it uses."""
    chosen = {}
    for day, rows in frames.items():
        used = rows[rows["In Use Flag"].astype(bool)] if not rows.empty else rows
        twice = used.duplicated(["Interval Start", "Publish Time"])
        if twice.any():
            row = used[twice].iloc[0]
            raise MarketDataError(
                f"{label}: {LOAD.code} posted {row['Publish Time']} flags more than one model in use for "
                f"{row['Interval Start']} (delivery day {day})"
            )
        chosen[day] = used
    return chosen


def _forecast_table(
    wind: dict[dt.date, pd.DataFrame],
    solar: dict[dt.date, pd.DataFrame],
    load: dict[dt.date, pd.DataFrame],
    label: str,
) -> pd.DataFrame:
    """One row per (delivery hour, posting time); reports posted at the same second share a row."""
    parts = [
        rows
        for rows in (
            _forecast_rows(wind, WIND_COLUMNS, label, WIND.code),
            _forecast_rows(solar, SOLAR_COLUMNS, label, SOLAR.code),
            _forecast_rows(_in_use(load, label), LOAD_COLUMNS, label, LOAD.code),
        )
        if rows is not None
    ]
    if not parts:
        return schemas.validate("driver_forecasts", schemas.empty("driver_forecasts", FORECAST_COLUMNS), label)
    combined = (
        pd.concat(parts, ignore_index=True)
        .groupby(["timestamp_utc", schemas.POSTED_COLUMN])
        .first()
        .reindex(columns=FORECAST_COLUMNS)
        .reset_index()
    )
    frame = pd.concat(
        [
            _keys(combined["timestamp_utc"]),
            combined[schemas.POSTED_COLUMN].astype("datetime64[ns, UTC]"),
            combined[FORECAST_COLUMNS].astype("float64"),
        ],
        axis=1,
    ).sort_values(["timestamp_utc", schemas.POSTED_COLUMN], kind="stable")
    return schemas.validate("driver_forecasts", frame, label).reset_index(drop=True)

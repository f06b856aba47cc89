"""ERCOT's servers at the HTTP boundary: a requests transport adapter serving recorded postings.

It answers what gridstatus asks: the public API's sign-in (B2C token), archive listings filtered by posting time
and bulk downloads (a zip of zipped CSVs), and the MIS document list (IceDocListJsonWS) and document downloads
(mirDownload). gridstatus's own listing, download and parsing code runs unchanged on those answers.

The postings are built from the real ERCOT rows cut into data/ercot_api/ (see cut.py there), written in ERCOT's CSV
layouts. What the shared files do not record is filled in as follows, and tests assert only real values:
- Posting times: the wind and solar forecasts keep their real postedDatetime; the DAM is posted D-1 13:30 and each
  RTM interval 2 minutes after it ends (ERCOT's usual times); the load forecast D-1 09:30.
- RTM: the 2024 hubs file holds hourly means, so each of an hour's four intervals carries that mean; the 2025 cut
  holds ERCOT's real 15-minute prices.
- NP3-565-CD: the real system-wide day-ahead load forecast is the in-use model ("E"); its weather zones split that
  total by fixed shares (no real zonal forecast is in ../shared/data), and a second model ("M", not in use) reads
  3 % higher, so a reader that takes the wrong model is caught. Wind actuals, WGRPP and PVGRPP are blank.
- Every MIS CSV document has an XML twin, as on the MIS; downloading it yields XML, which no CSV reader accepts.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import requests
from requests.adapters import BaseAdapter

from dart_assets.market import timeutil

DATA = Path(__file__).parent / "data" / "ercot_api"
TOKEN_HOST = "ercotb2c.b2clogin.com"
CENTRAL = timeutil.MARKET_TZ

RTID = {"np4-190-cd": 12331, "np6-905-cd": 12301, "np4-742-cd": 14787, "np4-745-cd": 21809, "np3-565-cd": 14837}
NAMES = {
    "np4-190-cd": "DAMSPNP4190",
    "np6-905-cd": "SPPHLZNP6905",
    "np4-742-cd": "WPPHRLYACTLFCSTGEONP4742",
    "np4-745-cd": "SPPHRLYACTLFCSTGEONP4745",
    "np3-565-cd": "LFMODWZNP3565",
}
WIND_REGIONS = ("Panhandle", "Coastal", "South", "West", "North")
SOLAR_REGIONS = ("CenterWest", "NorthWest", "FarWest", "FarEast", "SouthEast", "CenterEast")
# Weather-zone shares of ERCOT load used to split the real system total (see the module doc).
ZONE_SHARES = {
    "Coast": 0.27,
    "East": 0.035,
    "FarWest": 0.075,
    "North": 0.02,
    "NorthCentral": 0.31,
    "SouthCentral": 0.155,
    "Southern": 0.10,
    "West": 0.035,
}


@dataclass
class Posting:
    report: str  # ERCOT report id, lower case (the API's emil id)
    posted: pd.Timestamp  # Central wall-clock time, naive, as ERCOT lists it
    rows: pd.DataFrame  # the CSV ERCOT publishes
    friendly: str
    doc_id: str = ""

    @property
    def constructed(self) -> str:
        return f"cdr.{RTID[self.report]:08d}.0000000000000000.{self.posted:%Y%m%d.%H%M%S}.{NAMES[self.report]}"

    @property
    def posted_utc(self) -> pd.Timestamp:
        return self.posted.tz_localize(CENTRAL, ambiguous=True).tz_convert("UTC")


@dataclass
class FakeErcot(BaseAdapter):
    """Serves `postings` as ERCOT would at `now`: a posting is listed only once posted."""

    postings: list[Posting]
    now: pd.Timestamp
    username: str = "desk@example.com"
    password: str = "pw-S3cret-Example"
    key: str = "key-0123456789abcdef"
    token: str = "id-token-from-b2c"
    calls: list[tuple[str, str]] = field(default_factory=list)
    failures: list[list] = field(default_factory=list)  # [url part, outcome, times left]

    def __post_init__(self) -> None:
        super().__init__()
        for number, posting in enumerate(self.postings, start=100_000):
            posting.doc_id = str(number)

    def fail(self, url_part: str, outcome: int | Exception, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests whose URL contains url_part get HTTP `outcome` or raise it."""
        self.failures.append([url_part, outcome, times, retry_after])

    def calls_to(self, part: str) -> list[str]:
        return [url for _, url in self.calls if part in url]

    # ----------------------------------------------------------------------------------------------- transport

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.calls.append((request.method, request.url))
        for failure in self.failures:
            part, outcome, times, retry_after = failure
            if times and part in request.url:
                failure[2] -= 1
                if isinstance(outcome, Exception):
                    raise outcome
                headers = {"Retry-After": retry_after} if retry_after else {}
                return _response(request, outcome, {"message": "injected failure"}, headers)
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.hostname == TOKEN_HOST:
            return self._token(request)
        if url.hostname == "api.ercot.com":
            return self._api(request, url.path, query)
        if url.path.endswith("IceDocListJsonWS"):
            return self._mis_list(request, int(query["reportTypeId"]))
        if url.path.endswith("mirDownload"):
            return self._mis_document(request, query["doclookupId"])
        return _response(request, 404, {"message": "not found"})

    def close(self) -> None:
        pass

    def _listed(self) -> list[Posting]:
        return [p for p in self.postings if p.posted_utc <= self.now]

    def _token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        if form.get("username") != self.username or form.get("password") != self.password:
            return _response(request, 400, {"error": "invalid_grant", "error_description": "AADB2C90225"})
        return _response(request, 200, {"id_token": self.token, "token_type": "Bearer"})

    def _api(self, request, path: str, query: dict):
        if (
            request.headers.get("Ocp-Apim-Subscription-Key") != self.key
            or request.headers.get("Authorization") != f"Bearer {self.token}"
        ):
            message = "Access denied due to invalid subscription key. Make sure to provide a valid key."
            return _response(request, 401, {"statusCode": 401, "message": message})
        parts = path.strip("/").split("/")  # api public-reports archive <emil> [download]
        report = parts[3]
        if len(parts) == 5 and parts[4] == "download":
            wanted = json.loads(request.body)["docIds"]
            by_id = {p.doc_id: p for p in self._listed()}
            outer = io.BytesIO()
            with zipfile.ZipFile(outer, "w") as archive:
                for doc_id in wanted:
                    archive.writestr(f"{doc_id}.zip", _zipped_csv(by_id[doc_id]))
            return _response(request, 200, outer.getvalue())
        first = pd.Timestamp(query["postDatetimeFrom"])
        last = pd.Timestamp(query["postDatetimeTo"])
        found = [p for p in self._listed() if p.report == report and first <= p.posted <= last]
        size, page = int(query.get("size", 1000)), int(query.get("page", 1))
        pages = max(1, -(-len(found) // size))
        archives = [
            {
                "docId": int(p.doc_id),
                "friendlyName": p.friendly,
                "postDatetime": f"{p.posted:%Y-%m-%dT%H:%M:%S}",
                "_links": {
                    "endpoint": {
                        "href": f"https://api.ercot.com/api/public-reports/archive/{report}?download={p.doc_id}"
                    }
                },
            }
            for p in found[(page - 1) * size : page * size]
        ]
        meta = {"totalRecords": len(found), "pageSize": size, "totalPages": pages, "currentPage": page}
        return _response(request, 200, {"_meta": meta, "archives": archives})

    def _mis_list(self, request, report_type: int):
        documents = []
        for p in self._listed():
            if RTID[p.report] != report_type:
                continue
            offset = p.posted_utc.tz_convert(CENTRAL).strftime("%z")
            for kind in ("csv", "xml"):
                documents.append(
                    {
                        "Document": {
                            "DocID": f"{p.doc_id}{kind}",
                            "PublishDate": f"{p.posted:%Y-%m-%dT%H:%M:%S}{offset[:3]}:{offset[3:]}",
                            "ConstructedName": f"{p.constructed}.{kind}.zip",
                            "FriendlyName": f"{p.friendly}_{kind}",
                            "ReportTypeID": report_type,
                            "Extension": "zip",
                        }
                    }
                )
        return _response(request, 200, {"ListDocsByRptTypeRes": {"DocumentList": documents}})

    def _mis_document(self, request, doc: str):
        by_id = {p.doc_id: p for p in self._listed()}
        posting = by_id.get(doc.removesuffix("csv").removesuffix("xml"))
        if posting is None:
            return _response(request, 404, b"gone")
        if doc.endswith("xml"):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(f"{posting.constructed}.xml", "<report/>")
            return _response(request, 200, buffer.getvalue())
        return _response(request, 200, _zipped_csv(posting))


def _zipped_csv(posting: Posting) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{posting.constructed}.csv", posting.rows.to_csv(index=False))
    return buffer.getvalue()


def _response(request, status: int, body, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers.update(headers or {})
    response.url = request.url
    response.request = request
    response.encoding = "utf-8"
    return response


# ------------------------------------------------------------------------------------------ postings from files


def hubs_2024() -> pd.DataFrame:
    """The 2024 hubs cut with ERCOT's delivery-day clock added."""
    hubs = pd.read_csv(DATA / "hubs_2024-03-07_2024-03-12.csv")
    stamps = pd.to_datetime(hubs["timestamp_utc"], utc=True)
    return pd.concat([hubs.assign(timestamp_utc=stamps), timeutil.from_utc(stamps)], axis=1)


def forecasts_2024(report: str) -> pd.DataFrame:
    return pd.read_parquet(DATA / f"{report}_2024-03-07_2024-03-12.parquet")


def _mdy(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates).dt.strftime("%m/%d/%Y")


def _flag(repeated: pd.Series) -> pd.Series:
    return repeated.map({True: "Y", False: "N"})


def dam_postings(hubs: pd.DataFrame) -> list[Posting]:
    postings = []
    for day, rows in hubs.groupby("delivery_date"):
        csv = pd.DataFrame(
            {
                "DeliveryDate": _mdy(rows["delivery_date"]),
                "HourEnding": rows["hour_ending"].map("{:02d}:00".format),
                "SettlementPoint": rows["settlement_point"],
                "SettlementPointPrice": rows["dam_price"],
                "DSTFlag": _flag(rows["repeated_hour"]),
            }
        )
        postings.append(Posting("np4-190-cd", day - pd.Timedelta(hours=10, minutes=30), csv, "DAMSPNP4190"))
    return postings


def rtm_postings(intervals: pd.DataFrame) -> list[Posting]:
    """One posting per 15-minute interval; `intervals` in NP6-905-CD's columns plus interval_end_utc."""
    postings = []
    for end, rows in intervals.groupby("interval_end_utc"):
        local_end = end.tz_convert(CENTRAL).tz_localize(None)
        friendly = f"SPPHLZNP6905_{local_end:%Y%m%d_%H%M}"
        postings.append(
            Posting("np6-905-cd", local_end + pd.Timedelta(minutes=2), rows.drop(columns="interval_end_utc"), friendly)
        )
    return postings


def rtm_intervals_2024(hubs: pd.DataFrame) -> pd.DataFrame:
    """Four intervals per hour, each at the hour's real mean (the 2024 file has no 15-minute prices)."""
    parts = []
    for interval in range(1, 5):
        parts.append(
            pd.DataFrame(
                {
                    "DeliveryDate": _mdy(hubs["delivery_date"]),
                    "DeliveryHour": hubs["hour_ending"],
                    "DeliveryInterval": interval,
                    "SettlementPointName": hubs["settlement_point"],
                    "SettlementPointType": "HU",
                    "SettlementPointPrice": hubs["rtm_price"],
                    "DSTFlag": _flag(hubs["repeated_hour"]),
                    "interval_end_utc": hubs["timestamp_utc"] + pd.Timedelta(minutes=15 * interval),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def rtm_intervals_2025() -> pd.DataFrame:
    """ERCOT's real 15-minute prices of 2025-03-09 (NP6-785-ER rows) in NP6-905-CD's layout."""
    raw = pd.read_csv(DATA / "np6-785-er_2025-03-09.csv", dtype=str)
    hour = raw["Delivery Hour"].astype(int)
    repeated = raw["Repeated Hour Flag"].eq("Y")
    start = timeutil.to_utc(pd.to_datetime(raw["Delivery Date"], format="%m/%d/%Y"), hour, repeated)
    interval = raw["Delivery Interval"].astype(int)
    return pd.DataFrame(
        {
            "DeliveryDate": raw["Delivery Date"],
            "DeliveryHour": hour,
            "DeliveryInterval": interval,
            "SettlementPointName": raw["Settlement Point Name"],
            "SettlementPointType": raw["Settlement Point Type"],
            "SettlementPointPrice": raw["Settlement Point Price"].astype(float),
            "DSTFlag": raw["Repeated Hour Flag"],
            "interval_end_utc": start + pd.to_timedelta(15 * interval, unit="min"),
        }
    )


def dam_workbook_rows(day: str) -> pd.DataFrame:
    """ERCOT's real DAM prices of a DST day (NP4-180-ER rows) in the columns hubs_2024() gives."""
    raw = pd.read_csv(DATA / f"np4-180-er_{day}.csv", dtype=str)
    dates = pd.to_datetime(raw["Delivery Date"], format="%m/%d/%Y")
    hour = raw["Hour Ending"].str.slice(0, 2).astype(int)
    repeated = raw["Repeated Hour Flag"].eq("Y")
    return pd.DataFrame(
        {
            "timestamp_utc": timeutil.to_utc(dates, hour, repeated),
            "settlement_point": raw["Settlement Point"],
            "dam_price": raw["Settlement Point Price"].astype(float),
            "delivery_date": dates,
            "hour_ending": hour,
            "repeated_hour": repeated,
        }
    )


def wind_postings(frame: pd.DataFrame) -> list[Posting]:
    regions = [(region, region.upper()) for region in WIND_REGIONS]
    return _forecast_postings(frame, "np4-742-cd", _region_columns(regions, "ACTUAL", "STWPF", "WGRPP"))


def solar_postings(frame: pd.DataFrame) -> list[Posting]:
    regions = [(region, region) for region in SOLAR_REGIONS]
    return _forecast_postings(frame, "np4-745-cd", _region_columns(regions, "GEN", "STPPF", "PVGRPP"))


def _region_columns(regions: list[tuple[str, str]], actual: str, forecast: str, probable: str) -> dict:
    """ERCOT's CSV headers (2024 layout) -> the API-layout parquet column they come from (None: left blank)."""
    columns: dict[str, str | None] = {}
    for region, name in [("SystemWide", "SYSTEM_WIDE"), *regions]:
        columns |= {
            f"{actual}_{name}": None,
            f"COP_HSL_{name}": f"COPHSL{region}",
            f"{forecast}_{name}": f"{forecast}{region}",
            f"{probable}_{name}": None,
        }
    return columns


def _forecast_postings(frame: pd.DataFrame, report: str, columns: dict[str, str | None]) -> list[Posting]:
    postings = []
    for posted, rows in frame.groupby("postedDatetime"):
        csv = pd.DataFrame({"DELIVERY_DATE": _mdy(rows["deliveryDate"]), "HOUR_ENDING": rows["hourEnding"]})
        for header, source in columns.items():
            csv[header] = rows[source] if source else float("nan")
        csv["DSTFlag"] = "N"
        postings.append(Posting(report, posted, csv, NAMES[report]))
    return postings


def load_postings(hubs: pd.DataFrame) -> list[Posting]:
    hours = hubs.drop_duplicates("timestamp_utc")
    postings = []
    for day, rows in hours.groupby("delivery_date"):
        models = []
        for model, factor, in_use in (("E", 1.0, "Y"), ("M", 1.03, "N")):
            total = rows["load_forecast_mw"] * factor
            models.append(
                pd.DataFrame(
                    {
                        "DeliveryDate": _mdy(rows["delivery_date"]),
                        "HourEnding": rows["hour_ending"].map("{:02d}:00".format),
                        **{zone: (total * share).round(2) for zone, share in ZONE_SHARES.items()},
                        "SystemTotal": total.round(4),
                        "Model": model,
                        "InUseFlag": in_use,
                        "DSTFlag": _flag(rows["repeated_hour"]),
                    }
                )
            )
        csv = pd.concat(models, ignore_index=True)
        postings.append(Posting("np3-565-cd", day - pd.Timedelta(hours=14, minutes=30), csv, NAMES["np3-565-cd"]))
    return postings


def postings_2024() -> list[Posting]:
    hubs = hubs_2024()
    return [
        *dam_postings(hubs),
        *rtm_postings(rtm_intervals_2024(hubs)),
        *wind_postings(forecasts_2024("np4-742-cd")),
        *solar_postings(forecasts_2024("np4-745-cd")),
        *load_postings(hubs),
    ]


def postings_dst() -> list[Posting]:
    """Real prices of two DST days: 2025-03-09 (DAM and 15-minute RTM) and 2021-11-07 (DAM)."""
    return [
        *dam_postings(dam_workbook_rows("2025-03-09")),
        *rtm_postings(rtm_intervals_2025()),
        *dam_postings(dam_workbook_rows("2021-11-07")),
    ]

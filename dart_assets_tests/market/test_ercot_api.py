"""The ercot_api source against ERCOT's servers faked at the HTTP boundary (ercot_fake.FakeErcot).

gridstatus's own listing, download and parsing code runs on every answer; the postings are real ERCOT rows (see
ercot_fake and data/ercot_api/cut.py). No test touches the network.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from dart_assets.market import ercot, timeutil
from dart_assets.market.ercot_api import (
    REPORTS,
    ApiCredentials,
    ErcotApiSource,
    ErcotCredentialsError,
    ErcotDownloadError,
    NotPublishedYetError,
    RetryPolicy,
)
from dart_assets.market.schemas import MarketDataError
from dart_assets_tests.market import ercot_fake
from dart_assets_tests.market.ercot_fake import FakeErcot

HUBS = ["HB_HOUSTON", "HB_NORTH", "HB_WEST"]
FIRST, LAST = dt.date(2024, 3, 7), dt.date(2024, 3, 12)
SPRING_FORWARD = dt.date(2024, 3, 10)
AFTER_2024 = pd.Timestamp("2024-10-01T17:00Z")  # every fixture day is history: read through the API
ROOT = Path(__file__).resolve().parents[2]
# ../shared/data beside the repository (a worktree sits one folder deeper)
SHARED = next(
    (p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data") if p.is_dir()), ROOT
)


def central(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_localize(timeutil.MARKET_TZ).tz_convert("UTC")


@pytest.fixture(scope="module")
def postings_2024() -> list[ercot_fake.Posting]:
    return ercot_fake.postings_2024()


def make_fake(postings, now: pd.Timestamp) -> FakeErcot:
    return FakeErcot([ercot_fake.Posting(p.report, p.posted, p.rows, p.friendly) for p in postings], now=now)


def make_source(fake: FakeErcot, cache: Path, credentials: ApiCredentials | None = None, **options) -> ErcotApiSource:
    if credentials is None:
        credentials = ApiCredentials(fake.username, fake.password, fake.key)
    options.setdefault("retry", RetryPolicy(base_delay=0.0))
    return ErcotApiSource(cache, credentials, transport=fake, clock=lambda: fake.now, **options)


def cache_files(cache: Path) -> list[str]:
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def backfill(tmp_path_factory, postings_2024):
    """2024-03-07..12 through the API: three full days, the spring-forward day, two days of the real price gap."""
    cache = tmp_path_factory.mktemp("backfill")
    fake = make_fake(postings_2024, AFTER_2024)
    tables = make_source(fake, cache).read(FIRST, LAST, HUBS)
    return tables, fake, cache


# --------------------------------------------------------------------------------------------------- backfill


def test_backfill_prices_equal_the_real_file(backfill):
    tables, _, _ = backfill
    hubs = ercot_fake.hubs_2024()
    for kind, price in (("dam_prices", "dam_price"), ("rtm_prices", "rtm_price")):
        got = tables[kind]
        merged = got.merge(hubs, on=["timestamp_utc", "settlement_point"], suffixes=("", "_real"), validate="1:1")
        assert len(got) == len(hubs) == 3 * (3 * 24 + 1)  # 03-10 has only HE01 in the real file
        assert np.allclose(merged[price], merged[f"{price}_real"], rtol=0, atol=1e-9)
        assert (merged["hour_ending"] == merged["hour_ending_real"]).all()
    row = tables["dam_prices"].query("settlement_point == 'HB_WEST' and hour_ending == 1").iloc[0]
    assert (row["timestamp_utc"], row["dam_price"]) == (pd.Timestamp("2024-03-07T06:00Z"), 23.78)
    # 03-11 and 03-12 are the real file's gap: no rows, no exception
    assert tables["dam_prices"]["delivery_date"].max() == pd.Timestamp(SPRING_FORWARD)
    assert tables["system_conditions"].empty


@pytest.mark.parametrize(
    ("report", "mapping"),
    [
        ("np4-742-cd", {"STWPFSystemWide": "wind_forecast_mw", "STWPFWest": "wind_forecast_west_mw"}),
        ("np4-745-cd", {"STPPFSystemWide": "solar_forecast_mw", "STPPFFarWest": "solar_forecast_farwest_mw"}),
    ],
)
def test_backfill_wind_and_solar_forecasts_equal_the_real_postings(backfill, report, mapping):
    forecasts = backfill[0]["driver_forecasts"]
    real = ercot_fake.forecasts_2024(report)
    real_posted = real["postedDatetime"].dt.tz_localize(timeutil.MARKET_TZ).dt.tz_convert("UTC")
    got = forecasts.dropna(subset=[next(iter(mapping.values()))])
    assert len(got) == len(real) == 5 * 24 + 23
    assert set(got["posted_utc"]) == set(real_posted)
    # the rows of a posting, in hour order, are that posting's hours in order (23 on the spring-forward day)
    for (posted, rows), (_, real_rows) in zip(got.groupby("posted_utc"), real.groupby(real_posted), strict=True):
        day = real_rows["deliveryDate"].iloc[0]
        assert list(rows["timestamp_utc"]) == list(timeutil.day_hours(day)["timestamp_utc"])
        assert (rows["delivery_date"] == pd.Timestamp(day)).all()
        for column, ours in mapping.items():
            assert np.allclose(rows[ours], real_rows[column], rtol=0, atol=1e-9), (posted, column)
    assert (got["posted_utc"] < got["timestamp_utc"]).all()


def test_backfill_spring_forward_day_places_both_label_conventions_on_the_same_hours(backfill):
    forecasts = backfill[0]["driver_forecasts"]
    day = forecasts[forecasts["delivery_date"] == pd.Timestamp(SPRING_FORWARD)]
    expected = list(timeutil.day_hours(SPRING_FORWARD)["timestamp_utc"])
    assert len(expected) == 23
    for column in ("wind_forecast_mw", "solar_forecast_mw"):
        assert list(day.dropna(subset=[column])["timestamp_utc"]) == expected
    # the solar file labels the hour after 01:59 CST "HE 3" (wind: "HE 2"): both land on 07:00Z
    solar = ercot_fake.forecasts_2024("np4-745-cd").query("deliveryDate == '2024-03-10' and hourEnding == 3")
    at_7 = day[day["timestamp_utc"] == pd.Timestamp("2024-03-10T07:00Z")]
    assert at_7["solar_forecast_mw"].dropna().tolist() == solar["STPPFSystemWide"].tolist()


def test_backfill_load_forecast_uses_the_model_in_use(backfill):
    forecasts = backfill[0]["driver_forecasts"]
    load = forecasts.dropna(subset=["load_forecast_mw"])
    hubs = ercot_fake.hubs_2024().drop_duplicates("timestamp_utc")
    merged = load.merge(hubs, on="timestamp_utc", validate="1:1")
    assert len(merged) == len(hubs) == 3 * 24 + 1
    assert np.allclose(merged["load_forecast_mw_x"], merged["load_forecast_mw_y"], rtol=0, atol=1e-4)
    zones = [c for c in load if c.startswith("load_forecast_") and c != "load_forecast_mw"]
    assert len(zones) == 8
    assert np.allclose(load[zones].sum(axis=1), load["load_forecast_mw"], atol=0.05)
    # posted D-1 09:30 Central (the 03-10 posting in CST, the others too: DST starts 03-10 02:00)
    day_before = load["delivery_date"] - pd.Timedelta(days=1)
    assert (load["posted_utc"] == day_before.map(lambda d: central(f"{d.date()} 09:30"))).all()


def test_backfill_requests_and_cache_files(backfill):
    _, fake, cache = backfill
    # one sign-in, then per report one archive listing and one bulk download for the six days
    assert len(fake.calls_to("oauth2")) == 1
    for report in ("np4-190-cd", "np6-905-cd", "np4-742-cd", "np4-745-cd", "np3-565-cd"):
        assert len(fake.calls_to(f"archive/{report}?")) == 1
        assert len(fake.calls_to(f"archive/{report}/download")) == 1
    assert not fake.calls_to("www.ercot.com")
    days = [f"{d.date()}.parquet" for d in pd.date_range(FIRST, LAST)]
    reports = ["np3-565-cd", "np4-190-cd", "np4-742-cd", "np4-745-cd", "np6-905-cd"]
    assert cache_files(cache) == [f"{r}/{d}" for r in reports for d in days]
    # the gap days are cached as empty files: final, so a backfill never asks again
    assert pd.read_parquet(cache / "np4-190-cd" / "2024-03-12.parquet").empty


def test_second_run_reads_the_cache_without_a_request_or_credentials(backfill):
    tables, _, cache = backfill
    offline = FakeErcot([], now=AFTER_2024)
    offline.fail("http", requests.ConnectionError("no network in this test"), times=1000)
    again = make_source(offline, cache, credentials=ApiCredentials()).read(FIRST, LAST, HUBS)
    assert offline.calls == []
    for kind, frame in tables.items():
        pd.testing.assert_frame_equal(again[kind], frame)


def test_backfill_in_chunks_makes_one_download_per_chunk(tmp_path, postings_2024):
    fake = make_fake(postings_2024, AFTER_2024)
    tables = make_source(fake, tmp_path, chunk_days=2).read(FIRST, LAST, HUBS)
    assert len(fake.calls_to("archive/np6-905-cd?")) == 3
    assert len(tables["rtm_prices"]) == 219


def test_a_day_without_any_data_is_an_empty_table_not_an_error(tmp_path, postings_2024):
    fake = make_fake(postings_2024, AFTER_2024)
    tables = make_source(fake, tmp_path).read(dt.date(2024, 3, 13), dt.date(2024, 3, 13), HUBS)
    assert all(frame.empty for frame in tables.values())
    assert list(tables["dam_prices"].columns) == [
        "timestamp_utc",
        "delivery_date",
        "hour_ending",
        "repeated_hour",
        "settlement_point",
        "dam_price",
    ]
    calls = len(fake.calls)
    make_source(fake, tmp_path).read(dt.date(2024, 3, 13), dt.date(2024, 3, 13), HUBS)
    assert len(fake.calls) == calls  # the gap is final and cached


def test_unknown_settlement_point_is_a_clear_error(tmp_path, postings_2024):
    fake = make_fake(postings_2024, AFTER_2024)
    with pytest.raises(MarketDataError, match=r"\['HB_NOPE'\] not in ERCOT's NP4-190-CD.*HB_HOUSTON"):
        make_source(fake, tmp_path).read(FIRST, FIRST, ["HB_NOPE"])


# ---------------------------------------------------------------------------------------- DST day, real 15-min


def test_spring_forward_prices_from_real_15_minute_intervals(tmp_path):
    fake = FakeErcot(ercot_fake.postings_dst(), now=pd.Timestamp("2025-06-01T12:00Z"))
    day = dt.date(2025, 3, 9)
    points = [*HUBS, "LZ_WEST"]
    tables = make_source(fake, tmp_path).read(day, day, points)
    expected_hours = list(timeutil.day_hours(day)["timestamp_utc"])
    intervals = ercot_fake.rtm_intervals_2025()
    plain = intervals[intervals["SettlementPointType"] != "LZEW"]  # LZ_WEST comes as LZ and as LZEW
    means = plain.groupby(["SettlementPointName", "DeliveryHour"])["SettlementPointPrice"].mean()
    for point in points:
        rtm = tables["rtm_prices"].query("settlement_point == @point")
        assert list(rtm["timestamp_utc"]) == expected_hours
        assert np.allclose(rtm["rtm_price"], means[point].to_numpy(), rtol=0, atol=1e-9)
        dam = tables["dam_prices"].query("settlement_point == @point")
        assert list(dam["timestamp_utc"]) == expected_hours
    # the energy-weighted LZ_WEST price differs in some hours: the check above would catch taking it
    weighted = intervals[intervals["SettlementPointType"] == "LZEW"].groupby("DeliveryHour")["SettlementPointPrice"]
    assert (weighted.mean().to_numpy() != means["LZ_WEST"].to_numpy()).sum() >= 3
    assert list(tables["rtm_prices"].query("settlement_point == 'HB_WEST'")["hour_ending"])[:3] == [1, 2, 4]


def test_fall_back_day_keeps_the_repeated_hour(tmp_path):
    fake = FakeErcot(ercot_fake.postings_dst(), now=pd.Timestamp("2022-01-01T12:00Z"))
    day = dt.date(2021, 11, 7)
    tables = make_source(fake, tmp_path).read(day, day, HUBS)
    dam = tables["dam_prices"].query("settlement_point == 'HB_WEST'")
    assert list(dam["timestamp_utc"]) == list(pd.date_range("2021-11-07T05:00Z", periods=25, freq="h"))
    assert dam[["hour_ending", "repeated_hour", "dam_price"]].iloc[1:3].values.tolist() == [
        [2, False, 6.59],
        [2, True, 23.2],
    ]
    assert len(tables["dam_prices"]) == 3 * 25
    assert tables["rtm_prices"].empty and tables["driver_forecasts"].empty  # no postings: gaps


@pytest.mark.skipif(not (SHARED / "DAMLZHBSPP_2025.xlsx").exists(), reason="real ERCOT workbooks not present")
@pytest.mark.parametrize(
    ("day", "points", "workbooks"),
    [
        (dt.date(2025, 3, 9), [*HUBS, "LZ_WEST"], ("DAMLZHBSPP_2025.xlsx", "rtm_spp_mar-2025_gridstatus.xlsx")),
        (dt.date(2021, 11, 7), HUBS, ("DAMLZHBSPP_2021.xlsx",)),
    ],
)
def test_dst_day_prices_agree_with_the_workbook_reader(tmp_path, day, points, workbooks):
    """An independent reader (ercot.read_dam/read_rtm) on ERCOT's own yearly workbooks gives the same tables."""
    fake = FakeErcot(ercot_fake.postings_dst(), now=pd.Timestamp("2025-06-01T12:00Z"))
    tables = make_source(fake, tmp_path / "cache").read(day, day, points)
    folder = tmp_path / "workbooks"
    folder.mkdir()
    for name in workbooks:
        (folder / name).symlink_to(SHARED / name)
    pd.testing.assert_frame_equal(tables["dam_prices"], ercot.read_dam(folder, day, day, points))
    if len(workbooks) > 1:
        pd.testing.assert_frame_equal(tables["rtm_prices"], ercot.read_rtm(folder, day, day, points), atol=1e-9)


def test_report_ids_match_gridstatus():
    from gridstatus import ercot as mis
    from gridstatus.ercot_api import ercot_api as api

    assert [r.mis_type for r in REPORTS] == [
        mis.DAM_SETTLEMENT_POINT_PRICES_RTID,
        mis.SETTLEMENT_POINT_PRICES_AT_RESOURCE_NODES_HUBS_AND_LOAD_ZONES_RTID,
        mis.WIND_POWER_PRODUCTION_HOURLY_AVERAGED_ACTUAL_AND_FORECASTED_VALUES_BY_GEOGRAPHICAL_REGION_RTID,
        mis.SOLAR_POWER_PRODUCTION_HOURLY_AVERAGED_ACTUAL_AND_FORECASTED_VALUES_BY_GEOGRAPHICAL_REGION_RTID,
        mis.ERCOTSevenDayLoadForecastReport.BY_MODEL_AND_WEATHER_ZONE.value,
    ]
    assert [r.api_endpoint for r in REPORTS] == [
        api.SPP_DAY_AHEAD_HOURLY,
        api.SETTLEMENT_POINT_PRICE_REAL_TIME_15_MIN,
        api.HOURLY_WIND_POWER_PRODUCTION_BY_GEOGRAPHICAL_REGION_ENDPOINT,
        api.HOURLY_SOLAR_POWER_PRODUCTION_BY_GEOGRAPHICAL_REGION_ENDPOINT,
        api.LOAD_FORECAST_BY_MODEL_ENDPOINT,
    ]
    assert [r.code.lower() for r in REPORTS] == [r.api_endpoint.split("/")[1] for r in REPORTS]


# ------------------------------------------------------------------------------------------------- MIS, recent


def test_today_from_the_mis_without_a_key_caches_only_what_is_final(tmp_path, postings_2024):
    day = dt.date(2024, 3, 9)
    fake = make_fake(postings_2024, central("2024-03-09 08:00"))
    tables = make_source(fake, tmp_path, credentials=ApiCredentials()).read(day, day, HUBS)
    assert not fake.calls_to("api.ercot.com")
    assert len(tables["dam_prices"]) == 3 * 24
    # intervals posted by 08:00 end at 07:45: hours 1..7 have all four, hour 8 is left out
    assert sorted(tables["rtm_prices"]["hour_ending"].unique()) == list(range(1, 8))
    assert tables["driver_forecasts"]["posted_utc"].nunique() == 3  # wind, solar and load postings of 03-08
    assert cache_files(tmp_path) == [
        f"{r}/2024-03-09.parquet" for r in ("np3-565-cd", "np4-190-cd", "np4-742-cd", "np4-745-cd")
    ]
    assert not [url for url in fake.calls_to("mirDownload") if url.endswith("xml")]

    fake.now = central("2024-03-10 03:00")  # the day has settled
    fake.calls.clear()
    tables = make_source(fake, tmp_path, credentials=ApiCredentials()).read(day, day, HUBS)
    assert len(tables["rtm_prices"]) == 3 * 24
    hubs = ercot_fake.hubs_2024()
    hubs = hubs[hubs["delivery_date"] == pd.Timestamp(day)]
    merged = tables["rtm_prices"].merge(hubs, on=["timestamp_utc", "settlement_point"], validate="1:1")
    assert np.allclose(merged["rtm_price_x"], merged["rtm_price_y"], rtol=0, atol=1e-9)
    assert {url.split("reportTypeId=")[1].split("&")[0] for url in fake.calls_to("IceDocListJsonWS")} == {"12301"}
    assert "np6-905-cd/2024-03-09.parquet" in cache_files(tmp_path)


def test_an_empty_mis_answer_after_the_window_is_a_gap_that_is_asked_again(tmp_path, postings_2024):
    day = dt.date(2024, 3, 12)  # prices and load are missing in the real files; wind and solar are there
    fake = make_fake(postings_2024, central("2024-03-13 08:00"))
    tables = make_source(fake, tmp_path, credentials=ApiCredentials()).read(day, day, HUBS)
    assert tables["dam_prices"].empty and tables["rtm_prices"].empty
    assert tables["driver_forecasts"]["load_forecast_mw"].isna().all()
    assert len(tables["driver_forecasts"].dropna(subset=["wind_forecast_mw"])) == 24
    # MIS lists only recent documents: an empty answer is not trusted as final, the forecasts it did list are
    assert cache_files(tmp_path) == ["np4-742-cd/2024-03-12.parquet", "np4-745-cd/2024-03-12.parquet"]


def test_tomorrows_forecasts_alone_can_be_read_before_its_prices_exist(tmp_path, postings_2024):
    day = dt.date(2024, 3, 9)
    fake = make_fake(postings_2024, central("2024-03-08 10:30"))  # postings of 09:30 and 09:55 are out
    source = make_source(fake, tmp_path, credentials=ApiCredentials())
    tables = source.read(day, day, HUBS, tables=["driver_forecasts"])
    assert list(tables) == ["driver_forecasts"]
    assert tables["driver_forecasts"].dropna(subset=["wind_forecast_mw"])["timestamp_utc"].nunique() == 24
    assert not fake.calls_to("reportTypeId=12331") and not fake.calls_to("reportTypeId=12301")
    assert cache_files(tmp_path) == []  # the window is open until 11:00: a later posting may still come
    with pytest.raises(ValueError, match="unknown table"):
        source.read(day, day, HUBS, tables=["prices"])


def test_a_day_not_published_yet_fails_clearly_and_keeps_what_is_final(tmp_path, postings_2024):
    day = dt.date(2024, 3, 9)
    fake = make_fake(postings_2024, central("2024-03-08 11:00"))  # D-1: forecasts posted, DAM not cleared yet
    with pytest.raises(NotPublishedYetError) as failure:
        make_source(fake, tmp_path, credentials=ApiCredentials()).read(day, day, HUBS)
    message = str(failure.value)
    assert "not published yet" in message
    assert "NP4-190-CD (DAM settlement point prices) for delivery day 2024-03-09" in message
    assert "NP6-905-CD (RTM settlement point prices) for delivery day 2024-03-09" in message
    assert "NP4-742-CD" not in message
    assert cache_files(tmp_path) == [f"{r}/2024-03-09.parquet" for r in ("np3-565-cd", "np4-742-cd", "np4-745-cd")]


# ------------------------------------------------------------------------------------------- failures and keys


@pytest.mark.parametrize(
    "outcome",
    [429, 503, requests.ReadTimeout("read timed out"), requests.ConnectionError("connection reset")],
    ids=["429", "503", "timeout", "connection"],
)
def test_transient_failures_are_retried_with_backoff(tmp_path, postings_2024, outcome):
    fake = make_fake(postings_2024, AFTER_2024)
    fake.fail("archive/np4-190-cd?", outcome, times=2)
    sleeps: list[float] = []
    source = make_source(fake, tmp_path, retry=RetryPolicy(attempts=3, base_delay=1.5), sleep=sleeps.append)
    tables = source.read(FIRST, FIRST, HUBS)
    assert len(tables["dam_prices"]) == 72
    assert len(fake.calls_to("archive/np4-190-cd?")) == 3
    assert sleeps == [1.5, 3.0]


def test_retry_after_is_honoured_and_exhausted_retries_name_the_report_and_day(tmp_path, postings_2024):
    fake = make_fake(postings_2024, AFTER_2024)
    fake.fail("archive/np6-905-cd?", 429, times=3, retry_after="7")
    sleeps: list[float] = []
    source = make_source(fake, tmp_path, retry=RetryPolicy(attempts=3, base_delay=0.0), sleep=sleeps.append)
    with pytest.raises(
        ErcotDownloadError, match=r"NP6-905-CD .* 2024-03-07: GET .*np6-905-cd failed 3 time\(s\), last with HTTP 429"
    ):
        source.read(FIRST, FIRST, HUBS)
    assert sleeps == [7.0, 7.0]
    assert "np4-190-cd/2024-03-07.parquet" in cache_files(tmp_path)  # reports before the failure stay cached


def test_a_rejected_subscription_key_fails_at_once_naming_the_variable(tmp_path, postings_2024, caplog):
    fake = make_fake(postings_2024, AFTER_2024)
    secret = "wrong-key-Zq9x7"
    credentials = ApiCredentials(fake.username, fake.password, secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ErcotCredentialsError) as failure:
        make_source(fake, tmp_path, credentials=credentials).read(FIRST, FIRST, HUBS)
    message = str(failure.value)
    assert "HTTP 401" in message
    assert "ERCOT_PUBLIC_API_SUBSCRIPTION_KEY" in message
    assert len(fake.calls_to("archive/")) == 1  # not retried
    for text in (message, repr(failure.value.__cause__), caplog.text):
        assert secret not in text and fake.password not in text


def test_a_rejected_password_names_username_and_password(tmp_path, postings_2024):
    fake = make_fake(postings_2024, AFTER_2024)
    credentials = ApiCredentials(fake.username, "not-the-password", fake.key, username_var="MY_USER")
    with pytest.raises(
        ErcotCredentialsError,
        match=r"rejected the username or password \(HTTP 400\); check MY_USER and ERCOT_API_PASSWORD",
    ):
        make_source(fake, tmp_path, credentials=credentials).read(FIRST, FIRST, HUBS)
    assert len(fake.calls_to("oauth2")) == 1


def test_history_without_credentials_names_the_three_variables_before_any_request(tmp_path, postings_2024):
    fake = make_fake(postings_2024, AFTER_2024)
    with pytest.raises(ErcotCredentialsError) as failure:
        make_source(fake, tmp_path, credentials=ApiCredentials()).read(FIRST, LAST, HUBS)
    message = str(failure.value)
    for name in ("ERCOT_API_USERNAME", "ERCOT_API_PASSWORD", "ERCOT_PUBLIC_API_SUBSCRIPTION_KEY"):
        assert name in message
    assert "2024-03-07..2024-03-12" in message
    assert fake.calls == []


def test_secrets_never_reach_cache_files_logs_or_messages(tmp_path, postings_2024, caplog):
    fake = make_fake(postings_2024, AFTER_2024)
    credentials = ApiCredentials(fake.username, fake.password, fake.key)
    caplog.set_level(logging.DEBUG)
    fake.fail("archive/np4-745-cd?", 503, times=1)
    source = make_source(fake, tmp_path, credentials=credentials)
    source.read(FIRST, dt.date(2024, 3, 8), HUBS)
    fake.key = "rotated-key"  # ERCOT now rejects the key the source holds
    with pytest.raises(ErcotCredentialsError) as failure:
        make_source(fake, tmp_path, credentials=credentials).read(dt.date(2024, 3, 9), dt.date(2024, 3, 9), HUBS)
    texts = [caplog.text, str(failure.value), repr(source), repr(credentials)]
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(blobs) == 10
    for secret in (fake.username, fake.password, credentials.subscription_key):
        assert all(secret not in text for text in texts)
        assert all(secret.encode() not in blob for blob in blobs)


def test_retry_policy_rejects_nonsense():
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    assert RetryPolicy(base_delay=2.0, max_delay=10.0).delay(4) == 10.0
    assert RetryPolicy(base_delay=2.0).delay(2, retry_after=30.0) == 30.0


@pytest.mark.skipif(not (SHARED / "real").exists(), reason="real ERCOT files not present")
def test_fixtures_are_unchanged_cuts_of_the_real_files():
    hubs = pd.read_csv(SHARED / "real" / "ercot_hubs_2024-01_2024-09_forecasts.csv")
    cut = pd.read_csv(ercot_fake.DATA / "hubs_2024-03-07_2024-03-12.csv")
    real = hubs.merge(cut[["timestamp_utc", "settlement_point"]], on=["timestamp_utc", "settlement_point"])
    pd.testing.assert_frame_equal(real[cut.columns].reset_index(drop=True), cut)
    for report, name in (("np4-742-cd", "wind"), ("np4-745-cd", "solar")):
        full = pd.read_parquet(SHARED / "real" / f"{report}_{name}_forecast_2024-01_2024-09.parquet")
        cut = ercot_fake.forecasts_2024(report)
        pd.testing.assert_frame_equal(full.loc[cut.index], cut)

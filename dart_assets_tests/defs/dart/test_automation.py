"""The desk's daily rhythm in America/Chicago: crons, the partitions each tick requests (DST days too), freshness,
and how the decision time moves them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from dart_assets.defs import build_defs
from dart_assets.defs.dart.partitions import build_partitions
from dart_assets.settings import Settings

CENTRAL = ZoneInfo("America/Chicago")
SCHEDULES = {
    "market_data_schedule": ("0 7 * * *", "market_data_job"),
    "forecast_accuracy_schedule": ("30 7 * * *", "forecast_accuracy_job"),
    "dart_forecast_job_schedule": ("0 8 * * *", "dart_forecast_job"),
    "weekly_retraining_schedule": ("0 5 * * 1", "weekly_retraining"),
    "transformer_refresh_schedule": ("0 6 1 * *", "transformer_refresh"),
}
defs = build_defs(Settings())
# The day before, the spring-forward day (23 h), the fall-back day (25 h), and the days after.
DAYS = ["2025-03-08", "2025-03-09", "2025-03-10", "2025-11-01", "2025-11-02", "2025-11-03", "2025-12-31"]


@pytest.fixture(scope="module")
def repo():
    return defs.get_repository_def()


def tick(repo, name: str, day: str, hour: int, minute: int = 0, definitions=defs) -> list[dg.RunRequest]:
    when = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=CENTRAL)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repo)
        return list(definitions.resolve_schedule_def(name).evaluate_tick(context).run_requests)


def shift(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def test_every_schedule_runs_by_default_in_central_time(repo):
    found = {s.name: s for s in repo.schedule_defs}
    assert sorted(found) == sorted(SCHEDULES)
    for name, (cron, job) in SCHEDULES.items():
        schedule = found[name]
        assert (schedule.cron_schedule, schedule.job_name) == (cron, job), name
        assert schedule.execution_timezone == "America/Chicago", name
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, name


@pytest.mark.parametrize("day", DAYS)
def test_forecast_tick_at_0800_requests_tomorrow(repo, day):
    [request] = tick(repo, "dart_forecast_job_schedule", day, 8)
    assert request.partition_key == shift(day, 1)


@pytest.mark.parametrize("day", DAYS)
def test_market_tick_at_0700_requests_yesterday_and_today(repo, day):
    requests = tick(repo, "market_data_schedule", day, 7)
    assert [r.partition_key for r in requests] == [shift(day, -1), day]
    assert [r.run_key for r in requests] == [f"market-{shift(day, -1)}", f"market-{day}"]


@pytest.mark.parametrize("day", DAYS)
def test_accuracy_tick_at_0730_requests_yesterday(repo, day):
    [request] = tick(repo, "forecast_accuracy_schedule", day, 7, 30)
    assert request.partition_key == shift(day, -1) and request.run_key == f"accuracy-{shift(day, -1)}"


def test_local_date_not_utc_date_decides_the_partition(repo):
    # 23:30 Central on 11-01 is already 11-02 in UTC; the requests must follow the Central date.
    requests = tick(repo, "market_data_schedule", "2025-11-01", 23, 30)
    assert [r.partition_key for r in requests] == ["2025-10-31", "2025-11-01"]
    [request] = tick(repo, "forecast_accuracy_schedule", "2025-03-09", 23, 30)
    assert request.partition_key == "2025-03-08"


def test_unpartitioned_schedules_request_one_run(repo):
    assert len(tick(repo, "weekly_retraining_schedule", "2025-03-10", 5)) == 1
    assert len(tick(repo, "transformer_refresh_schedule", "2025-11-01", 6)) == 1


def test_jobs_select_the_right_assets_and_partitions():
    expected = {
        "market_data_job": ({"dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"}, "market"),
        "dart_forecast_job": ({"driver_forecasts", "dart_forecast"}, "forecast"),
        "forecast_accuracy_job": ({"forecast_accuracy"}, "forecast"),
        "weekly_retraining": ({"hourly_features", "lgbm_model", "xgb_model", "lstm_model", "promoted_model"}, None),
    }
    days = build_partitions(Settings().start_date)
    partitions = {"market": days.market, "forecast": days.forecast, None: None}
    for name, (keys, kind) in expected.items():
        job = defs.resolve_job_def(name)
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == keys, name
        assert job.partitions_def == partitions[kind], name


def test_dart_forecast_is_due_by_0900_central_every_day():
    graph = defs.resolve_asset_graph()
    policy = graph.get(dg.AssetKey("dart_forecast")).freshness_policy
    assert policy == dg.FreshnessPolicy.cron(
        deadline_cron="0 9 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="America/Chicago"
    )
    # The market data must be in by 08:00 (the 07:00 run), an hour before the forecast's deadline.
    for key in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"):
        assert graph.get(dg.AssetKey(key)).freshness_policy == dg.FreshnessPolicy.cron(
            deadline_cron="0 8 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="America/Chicago"
        )
    with_policy = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy}
    assert with_policy == {"dart_forecast", "dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"}


def test_the_morning_follows_the_decision_time():
    """DART_DECISION_TIME=08:30: market data 06:30, scoring 07:00, forecast 07:30, due by 08:30."""
    early = build_defs(Settings(decision_time=dt.time(8, 30)))
    crons = {s.name: s.cron_schedule for s in early.get_repository_def().schedule_defs}
    assert crons == {
        "market_data_schedule": "30 6 * * *",
        "forecast_accuracy_schedule": "0 7 * * *",
        "dart_forecast_job_schedule": "30 7 * * *",
        "weekly_retraining_schedule": "0 5 * * 1",
        "transformer_refresh_schedule": "0 6 1 * *",
    }
    graph = early.resolve_asset_graph()
    assert graph.get(dg.AssetKey("dart_forecast")).freshness_policy == dg.FreshnessPolicy.cron(
        deadline_cron="30 8 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="America/Chicago"
    )
    assert graph.get(dg.AssetKey("dam_prices")).freshness_policy == dg.FreshnessPolicy.cron(
        deadline_cron="30 7 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="America/Chicago"
    )
    [request] = tick(early.get_repository_def(), "dart_forecast_job_schedule", "2025-11-01", 7, 30, early)
    assert request.partition_key == "2025-11-02"

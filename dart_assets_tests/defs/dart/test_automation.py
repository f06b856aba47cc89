"""The desk's daily rhythm in America/Chicago: crons, the partitions each tick requests (DST days too), freshness,
how the decision time moves them, and the forecast sensor waiting for its inputs on a real instance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from dart_assets.defs import build_defs
from dart_assets.defs.dart.automation import Rhythm
from dart_assets.defs.dart.market import AS_OF
from dart_assets.defs.dart.partitions import build_partitions
from dart_assets.defs.resources.clock import Clock
from dart_assets.settings import Settings
from dart_assets_tests.defs.dart.conftest import materialize

CENTRAL = ZoneInfo("America/Chicago")
SCHEDULES = {
    "settled_market_schedule": ("0 7 * * *", "market_data_job"),
    "forecast_accuracy_schedule": ("30 7 * * *", "forecast_accuracy_job"),
    "morning_market_schedule": ("5 9 * * *", "market_data_job"),
    "weekly_retraining_schedule": ("0 5 * * 1", "weekly_retraining"),
    "transformer_refresh_schedule": ("0 6 1 * *", "transformer_refresh"),
}
PRICES_AND_ACTUALS = {"dam_prices", "rtm_prices", "system_conditions"}
defs = build_defs(Settings())
# The day before, the spring-forward day (23 h), the fall-back day (25 h), and the days after.
DAYS = ["2025-03-08", "2025-03-09", "2025-03-10", "2025-11-01", "2025-11-02", "2025-11-03", "2025-12-31"]


@pytest.fixture(scope="module")
def repo():
    return defs.get_repository_def()


def tick(repo, name: str, day: str, hour: int, minute: int = 0, definitions=defs) -> list[dg.RunRequest]:
    when = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=CENTRAL)
    with (
        dg.DagsterInstance.ephemeral() as instance,
        dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=repo) as context,
    ):
        return list(definitions.resolve_schedule_def(name).evaluate_tick(context).run_requests)


def shift(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def selected(request: dg.RunRequest) -> set[str] | None:
    return None if request.asset_selection is None else {k.to_user_string() for k in request.asset_selection}


def test_every_schedule_runs_by_default_in_central_time(repo):
    found = {s.name: s for s in repo.schedule_defs}
    assert sorted(found) == sorted(SCHEDULES)
    for name, (cron, job) in SCHEDULES.items():
        schedule = found[name]
        assert (schedule.cron_schedule, schedule.job_name) == (cron, job), name
        assert schedule.execution_timezone == "America/Chicago", name
        assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING, name
    [sensor] = repo.sensor_defs
    assert (sensor.name, sensor.job_name, sensor.minimum_interval_seconds) == (
        "dart_forecast_sensor",
        "dart_forecast_job",
        60,
    )
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.parametrize("day", DAYS)
def test_settled_tick_at_0700_reloads_all_of_yesterday(repo, day):
    [request] = tick(repo, "settled_market_schedule", day, 7)
    assert (request.partition_key, request.run_key, selected(request)) == (
        shift(day, -1),
        f"market-settled-{shift(day, -1)}",
        None,  # every table of the job
    )


@pytest.mark.parametrize("day", DAYS)
def test_morning_tick_after_the_decision_time_loads_today_and_tomorrows_postings(repo, day):
    today, tomorrow = tick(repo, "morning_market_schedule", day, 9, 5)
    assert (today.partition_key, today.run_key, selected(today)) == (day, f"market-morning-{day}", PRICES_AND_ACTUALS)
    assert (tomorrow.partition_key, tomorrow.run_key, selected(tomorrow)) == (
        shift(day, 1),
        f"driver-forecasts-{shift(day, 1)}",
        {"driver_forecasts"},
    )


@pytest.mark.parametrize("day", DAYS)
def test_accuracy_tick_at_0730_requests_yesterday(repo, day):
    [request] = tick(repo, "forecast_accuracy_schedule", day, 7, 30)
    assert request.partition_key == shift(day, -1) and request.run_key == f"accuracy-{shift(day, -1)}"


def test_local_date_not_utc_date_decides_the_partition(repo):
    # 23:30 Central on 11-01 is already 11-02 in UTC; the requests must follow the Central date.
    requests = tick(repo, "morning_market_schedule", "2025-11-01", 23, 30)
    assert [r.partition_key for r in requests] == ["2025-11-01", "2025-11-02"]
    [request] = tick(repo, "forecast_accuracy_schedule", "2025-03-09", 23, 30)
    assert request.partition_key == "2025-03-08"


def test_unpartitioned_schedules_request_one_run(repo):
    assert len(tick(repo, "weekly_retraining_schedule", "2025-03-10", 5)) == 1
    assert len(tick(repo, "transformer_refresh_schedule", "2025-11-01", 6)) == 1


def test_jobs_select_the_right_assets_and_partitions():
    expected = {
        "market_data_job": ({"dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"}, "market"),
        "dart_forecast_job": ({"dart_forecast"}, "forecast"),
        "forecast_accuracy_job": ({"forecast_accuracy"}, "forecast"),
        "weekly_retraining": (
            {
                "hourly_features",
                "lgbm_model",
                "xgb_model",
                "lstm_model",
                "ensemble_model",
                "naive_model",
                "promoted_model",
            },
            None,
        ),
    }
    days = build_partitions(Settings().start_date)
    partitions = {"market": days.market, "forecast": days.forecast, None: None}
    for name, (keys, kind) in expected.items():
        job = defs.resolve_job_def(name)
        assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == keys, name
        assert job.partitions_def == partitions[kind], name


def policy(hour: int, minute: int) -> dg.FreshnessPolicy:
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{minute} {hour} * * *", lower_bound_delta=dt.timedelta(hours=24), timezone="America/Chicago"
    )


def test_dart_forecast_is_due_45_minutes_after_the_decision_time():
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey("dart_forecast")).freshness_policy == policy(9, 45)
    # The morning refresh (09:05) must have landed by 09:30.
    for key in ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"):
        assert graph.get(dg.AssetKey(key)).freshness_policy == policy(9, 30)
    with_policy = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy}
    assert with_policy == {"dart_forecast", "dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"}


def test_the_morning_follows_the_decision_time():
    """DART_DECISION_TIME=08:30: settled run 06:30, scoring 07:00, morning refresh 08:35, forecast due 09:15."""
    early = build_defs(Settings(decision_time=dt.time(8, 30)))
    crons = {s.name: s.cron_schedule for s in early.get_repository_def().schedule_defs}
    assert crons == {
        "settled_market_schedule": "30 6 * * *",
        "forecast_accuracy_schedule": "0 7 * * *",
        "morning_market_schedule": "35 8 * * *",
        "weekly_retraining_schedule": "0 5 * * 1",
        "transformer_refresh_schedule": "0 6 1 * *",
    }
    graph = early.resolve_asset_graph()
    assert graph.get(dg.AssetKey("dart_forecast")).freshness_policy == policy(9, 15)
    assert graph.get(dg.AssetKey("dam_prices")).freshness_policy == policy(9, 0)
    today, tomorrow = tick(early.get_repository_def(), "morning_market_schedule", "2025-11-01", 8, 35, early)
    assert (today.partition_key, tomorrow.partition_key) == ("2025-11-01", "2025-11-02")


@pytest.mark.parametrize(
    ("decision", "morning", "deadline"),
    [((9, 0), (9, 5), (9, 45)), ((9, 30), (9, 35), (9, 55)), ((9, 55), (10, 0), (9, 55)), ((2, 0), (2, 5), (2, 45))],
)
def test_the_forecast_is_due_before_the_dam_closes(decision, morning, deadline):
    rhythm = Rhythm(dt.time(*decision))
    assert (rhythm.morning_run, rhythm.forecast_deadline) == (dt.time(*morning), dt.time(*deadline))
    assert rhythm.forecast_deadline < dt.time(10, 0)


# --- the forecast sensor, on a real instance ----------------------------------------------------------------------

D = dt.date(2025, 3, 11)  # forecast for D; its decision time is 2025-03-10 09:00 CDT
BEFORE, SETTLED_DAY = D - dt.timedelta(days=1), D - dt.timedelta(days=2)


def central(day: dt.date, hour: int, minute: int = 0) -> str:
    return pd.Timestamp(dt.datetime.combine(day, dt.time(hour, minute)), tz="America/Chicago").isoformat()


class Desk:
    """A temp Dagster instance and storage where the market runs happen at chosen clock times, and the sensor is
    evaluated at chosen clock times."""

    def __init__(self, home: Path, storage: Path):
        self.instance = dg.DagsterInstance.local_temp(str(home))
        self.defs = build_defs(Settings(settlement_points=("HB_NORTH",), storage=str(storage)))
        self.sensor = self.defs.resolve_sensor_def("dart_forecast_sensor")
        self.cursor: str | None = None

    def load(self, tables: set[str], day: dt.date, at: str) -> None:
        """A market run for `day`'s `tables` that reads its source at `at`."""
        result = materialize(
            self.defs,
            dg.AssetSelection.assets(*tables),
            self.instance,
            resources={"clock": Clock(fixed_utc=at)},
            partition_key=day.isoformat(),
        )
        assert result.success

    def run_schedule(self, name: str, day: dt.date, hour: int, minute: int) -> None:
        """Execute what a schedule tick requests, at the tick's time."""
        when = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=CENTRAL)
        # Entered and exited: the context opens its own instance from the ref, which must not outlive the test.
        with dg.build_schedule_context(
            instance=self.instance, scheduled_execution_time=when, repository_def=self.defs.get_repository_def()
        ) as context:
            requests = self.defs.resolve_schedule_def(name).evaluate_tick(context).run_requests
        for request in requests:
            tables = selected(request) or {"dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"}
            self.load(tables, dt.date.fromisoformat(request.partition_key), when.isoformat())

    def evaluate(self, day: dt.date, hour: int, minute: int = 0) -> dg.SensorExecutionData:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"clock": Clock(fixed_utc=central(day, hour, minute))},
            definitions=self.defs,
        ) as context:
            data = self.sensor.evaluate_tick(context)
        self.cursor = data.cursor
        return data


@pytest.fixture
def desk(instance_dir, tmp_path) -> Iterator[Desk]:
    desk = Desk(instance_dir, tmp_path / "storage")
    with desk.instance:  # disposed before its folder goes
        yield desk


def test_market_materializations_record_when_the_source_was_read(desk):
    desk.load({"rtm_prices", "driver_forecasts"}, BEFORE, central(BEFORE, 9, 5))
    for asset in ("rtm_prices", "driver_forecasts"):
        [record] = desk.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[BEFORE.isoformat()]), limit=5
        ).records
        assert record.asset_materialization.metadata[AS_OF].value == "2025-03-10T14:05:00+00:00"


def test_the_forecast_waits_for_its_inputs_then_runs_once(desk):
    # The early-morning refresh of D-2 (settled) has run; D-1 was last loaded yesterday morning as "tomorrow".
    desk.run_schedule("settled_market_schedule", BEFORE, 7, 0)
    desk.load({"driver_forecasts"}, BEFORE, central(SETTLED_DAY, 9, 5))

    early = desk.evaluate(BEFORE, 8, 59)
    assert early.skip_message == "dart_forecast 2025-03-11: before its decision time (2025-03-10 09:00 CDT)"

    waiting = desk.evaluate(BEFORE, 9, 2)
    assert not waiting.run_requests
    assert waiting.skip_message == (
        "dart_forecast 2025-03-11 waits for "
        "dam_prices 2025-03-10 (D-1, read after the decision time): not materialized with a read time; "
        "rtm_prices 2025-03-10 (D-1, read after the decision time): not materialized with a read time; "
        "system_conditions 2025-03-10 (D-1, read after the decision time): not materialized with a read time; "
        "driver_forecasts 2025-03-11 (D's postings, read after the decision time): not materialized with a read time"
    )

    # A manual run at 08:55 loads D-1 and D's postings: read before the decision time, so they do not count.
    desk.load(PRICES_AND_ACTUALS | {"driver_forecasts"}, BEFORE, central(BEFORE, 8, 55))
    desk.load({"driver_forecasts"}, D, central(BEFORE, 8, 55))
    too_early = desk.evaluate(BEFORE, 9, 3)
    assert not too_early.run_requests
    assert "rtm_prices 2025-03-10 (D-1, read after the decision time): last read 2025-03-10 08:55 CDT, before " in (
        too_early.skip_message
    )
    assert too_early.skip_message.endswith(
        "driver_forecasts 2025-03-11 (D's postings, read after the decision time): last read 2025-03-10 08:55 CDT, "
        "before 2025-03-10 09:00 CDT"
    )

    # The 09:05 morning refresh: D-1's partitions land first, D's postings still wait.
    desk.load(PRICES_AND_ACTUALS, BEFORE, central(BEFORE, 9, 5))
    half = desk.evaluate(BEFORE, 9, 6)
    assert not half.run_requests
    assert half.skip_message == (
        "dart_forecast 2025-03-11 waits for driver_forecasts 2025-03-11 (D's postings, read after the decision "
        "time): last read 2025-03-10 08:55 CDT, before 2025-03-10 09:00 CDT"
    )

    desk.load({"driver_forecasts"}, D, central(BEFORE, 9, 6))
    ready = desk.evaluate(BEFORE, 9, 7)
    [request] = ready.run_requests
    assert (request.partition_key, request.run_key, request.job_name) == (
        "2025-03-11",
        "dart_forecast-2025-03-11",
        None,  # the sensor's own job: dart_forecast_job
    )
    assert ready.cursor == "2025-03-11"

    again = desk.evaluate(BEFORE, 9, 8)
    assert not again.run_requests and again.skip_message == "dart_forecast 2025-03-11: already requested"
    # The next day starts over for the next delivery day.
    assert desk.evaluate(D, 9, 1).skip_message.startswith("dart_forecast 2025-03-12 waits for dam_prices 2025-03-11")


def test_the_morning_schedule_delivers_what_the_sensor_waits_for_but_not_an_unsettled_d_minus_2(desk):
    # D-2 was only loaded by its own morning refresh (its evening was not published yet): not settled.
    desk.run_schedule("morning_market_schedule", SETTLED_DAY, 9, 5)
    desk.run_schedule("morning_market_schedule", BEFORE, 9, 5)
    waiting = desk.evaluate(BEFORE, 9, 10)
    assert waiting.skip_message == (
        "dart_forecast 2025-03-11 waits for rtm_prices 2025-03-09 (D-2, read after it settled): last read "
        "2025-03-09 09:05 CDT, before 2025-03-10 00:15 CDT"
    )
    desk.run_schedule("settled_market_schedule", BEFORE, 7, 0)
    [request] = desk.evaluate(BEFORE, 9, 11).run_requests
    assert request.partition_key == "2025-03-11"

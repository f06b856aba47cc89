"""The desk's daily rhythm (America/Chicago), anchored on the decision time T (DART_DECISION_TIME, default 09:00,
before the DAM closes at 10:00). On day D-1, for delivery day D:

- T - 2 h: yesterday's (D-2's) full-day refresh: its settled RTM and actuals (forecast_accuracy and the D-2 lags
  need them); yesterday is scored half an hour later.
- T + 5 min: the morning refresh. D-1's partition (its DAM, cleared the day before, and the RTM hours and actuals
  published so far) and D's driver forecasts (every posting up to the decision time). D's DAM clears on D-1 around
  13:30, after the DAM closes, so no morning run can have it; the next morning's refresh of D loads it. The five
  minutes cover postings stamped within the decision minute (ERCOT's 09:55 posting carries 09:55:36) and listing
  delays.
- the forecast for D runs as soon as its inputs are in (`dart_forecast_sensor`), never before: D-1's three market
  partitions and D's driver forecasts read at or after the decision time, D-2's RTM read after D-2 settled. It is
  due by min(T + 45 min, 09:55): five minutes before the DAM closes at the latest, to leave time to bid.

All schedules and the sensor are RUNNING by default, so `dagster dev` runs them (the transformer graph has its own
monthly refresh).
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from dart_assets import features
from dart_assets.defs.dart.market import AS_OF
from dart_assets.defs.resources.clock import Clock
from dart_assets.market.timeutil import DAM_CLOSE, MARKET_TZ, decision_time_utc

RUNNING = dg.DefaultScheduleStatus.RUNNING
# Jobs of one step or a short chain run in the run's own process: a spawned step process costs 2-5 s of start-up,
# more than these steps' work. Only the retraining job, whose trainers run side by side, uses the multiprocess
# executor (the default of the definitions).
IN_PROCESS = dg.in_process_executor
MARKET_TABLES = ("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts")
PRICES_AND_ACTUALS = ("dam_prices", "rtm_prices", "system_conditions")
SENSOR_INTERVAL_SECONDS = 60
FORECAST_JOB = "dart_forecast_job"
REFRESH_MARGIN = dt.timedelta(minutes=5)
FORECAST_WINDOW = dt.timedelta(minutes=45)
# A forecast later than this leaves no time to bid before the day-ahead market closes.
LATEST_FORECAST = (dt.datetime.combine(dt.date(2000, 1, 1), DAM_CLOSE) - dt.timedelta(minutes=5)).time()


@dataclass(frozen=True)
class Rhythm:
    """When each morning run happens on D-1, Central time, for a given decision time."""

    decision_time: dt.time

    def _shift(self, delta: dt.timedelta) -> dt.time:
        return (dt.datetime.combine(dt.date(2000, 1, 1), self.decision_time) + delta).time()

    @property
    def settled_run(self) -> dt.time:
        """Reloads yesterday, now settled in real time."""
        return self._shift(-dt.timedelta(hours=2))

    @property
    def accuracy_run(self) -> dt.time:
        """Scores yesterday once the settled run has loaded its real-time prices."""
        return self._shift(-dt.timedelta(minutes=90))

    @property
    def morning_run(self) -> dt.time:
        """Today's hours published by the decision time and tomorrow's postings up to it."""
        return self._shift(REFRESH_MARGIN)

    @property
    def market_deadline(self) -> dt.time:
        """The morning refresh must have landed by then."""
        return self._shift(REFRESH_MARGIN + dt.timedelta(minutes=25))

    @property
    def forecast_deadline(self) -> dt.time:
        """The forecast must exist by then: 45 minutes after the decision time, and 5 minutes before the DAM closes
        at the latest (a decision time after 09:10 shortens the window; at 09:55 it cannot be met)."""
        return min(self._shift(FORECAST_WINDOW), LATEST_FORECAST)


def daily_cron(at: dt.time) -> str:
    return f"{at.minute} {at.hour} * * *"


def freshness(deadline: dt.time) -> dg.FreshnessPolicy:
    """Red in the UI if not materialized by `deadline` Central each day."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=daily_cron(deadline), lower_bound_delta=dt.timedelta(hours=24), timezone=MARKET_TZ
    )


def _local_date(context: dg.ScheduleEvaluationContext) -> dt.date:
    return context.scheduled_execution_time.astimezone(ZoneInfo(MARKET_TZ)).date()


def _central(at: pd.Timestamp) -> str:
    return f"{at.tz_convert(MARKET_TZ):%Y-%m-%d %H:%M %Z}"


# --- what the forecast for D waits for ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """A market partition the forecast for D needs, read from its source at or after `since`."""

    asset: str
    partition: dt.date
    since: pd.Timestamp
    what: str


def forecast_needs(day: dt.date, decision_time: dt.time) -> list[Need]:
    """The partitions the forecast for `day` waits for, and since when each must hold its data: D-1's DAM, RTM and
    actuals and D's postings read after the decision time (so they hold what was published by then), D-2's RTM
    read after D-2's last hour was published (settled; the settled run loads it)."""
    decision = decision_time_utc(day, decision_time)
    before, settled_day = day - dt.timedelta(days=1), day - dt.timedelta(days=2)
    settled = (pd.Timestamp(before).tz_localize(MARKET_TZ) + features.RTM_PUBLICATION_LAG).tz_convert("UTC")
    return [
        *(Need(name, before, decision, "D-1, read after the decision time") for name in PRICES_AND_ACTUALS),
        Need("rtm_prices", settled_day, settled, "D-2, read after it settled"),
        Need("driver_forecasts", day, decision, "D's postings, read after the decision time"),
    ]


def read_at(instance: dg.DagsterInstance, asset: str, partition: dt.date) -> pd.Timestamp | None:
    """When the latest materialization of the partition read its source (the market asset records it); None if
    the partition was never materialized or the time is not recorded."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition.isoformat()]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    recorded = records[0].asset_materialization.metadata.get(AS_OF)
    return pd.Timestamp(str(recorded.value)).tz_convert("UTC") if recorded is not None else None


def waiting_for(instance: dg.DagsterInstance, day: dt.date, decision_time: dt.time) -> list[str]:
    """What the forecast for `day` still waits for, one phrase per missing input; empty when all are in."""
    waiting = []
    for need in forecast_needs(day, decision_time):
        at = read_at(instance, need.asset, need.partition)
        if at is None:
            waiting.append(f"{need.asset} {need.partition} ({need.what}): not materialized with a read time")
        elif at < need.since:
            waiting.append(
                f"{need.asset} {need.partition} ({need.what}): last read {_central(at)}, before {_central(need.since)}"
            )
    return waiting


def build_forecast_sensor(rhythm: Rhythm) -> dg.SensorDefinition:
    """Requests tomorrow's dart_forecast once its inputs are in (see `forecast_needs`), once per delivery day."""

    @dg.sensor(
        job_name=FORECAST_JOB,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Forecasts tomorrow as soon as today's market data and tomorrow's driver forecasts have been "
        f"read after the decision time ({rhythm.decision_time:%H:%M} Central; the morning refresh runs at "
        f"{rhythm.morning_run:%H:%M}), and yesterday's RTM after it settled; never before. One run per day.",
    )
    def dart_forecast_sensor(context: dg.SensorEvaluationContext, clock: Clock):
        now = clock.now()
        day = now.tz_convert(MARKET_TZ).date() + dt.timedelta(days=1)
        decision = decision_time_utc(day, rhythm.decision_time)
        if now < decision:
            return dg.SkipReason(f"dart_forecast {day}: before its decision time ({_central(decision)})")
        if context.cursor == day.isoformat():
            return dg.SkipReason(f"dart_forecast {day}: already requested")
        waiting = waiting_for(context.instance, day, rhythm.decision_time)
        if waiting:
            return dg.SkipReason(f"dart_forecast {day} waits for " + "; ".join(waiting))
        request = dg.RunRequest(run_key=f"dart_forecast-{day}", partition_key=day.isoformat())
        return dg.SensorResult(run_requests=[request], cursor=day.isoformat())

    return dart_forecast_sensor


# --- jobs and schedules -----------------------------------------------------------------------------------------


def build_automation(rhythm: Rhythm) -> dg.Definitions:
    """The DART jobs, their schedules and the forecast sensor."""
    market_data_job = dg.define_asset_job(
        "market_data_job",
        selection=dg.AssetSelection.assets(*MARKET_TABLES),
        executor_def=IN_PROCESS,
        description="DAM, RTM, system conditions and driver forecasts for the selected delivery days.",
    )
    dart_forecast_job = dg.define_asset_job(
        FORECAST_JOB,
        selection=dg.AssetSelection.assets("dart_forecast"),
        executor_def=IN_PROCESS,
        description="A delivery day's DART forecast from the champion and the inputs known at its decision time.",
    )
    forecast_accuracy_job = dg.define_asset_job(
        "forecast_accuracy_job",
        selection=dg.AssetSelection.assets("forecast_accuracy"),
        executor_def=IN_PROCESS,
        description="Score a settled day's forecast and watch for drift.",
    )
    weekly_retraining = dg.define_asset_job(
        "weekly_retraining",
        selection=dg.AssetSelection.assets("hourly_features") | dg.AssetSelection.groups("training"),
        description="Rebuild features, retrain the candidates in parallel, promote the best if it passes the gate.",
    )

    @dg.schedule(
        job=market_data_job,
        cron_schedule=daily_cron(rhythm.settled_run),
        execution_timezone=MARKET_TZ,
        default_status=RUNNING,
    )
    def settled_market_schedule(context: dg.ScheduleEvaluationContext):
        """Yesterday's full day, now settled in real time: every table of it again."""
        day = _local_date(context) - dt.timedelta(days=1)
        return dg.RunRequest(run_key=f"market-settled-{day}", partition_key=day.isoformat())

    @dg.schedule(
        job=market_data_job,
        cron_schedule=daily_cron(rhythm.morning_run),
        execution_timezone=MARKET_TZ,
        default_status=RUNNING,
    )
    def morning_market_schedule(context: dg.ScheduleEvaluationContext):
        """Just after the decision time: today's DAM, RTM and actuals published so far, and tomorrow's driver
        forecasts (tomorrow's DAM clears this afternoon: the next morning's run loads it)."""
        today = _local_date(context)
        tomorrow = today + dt.timedelta(days=1)
        return [
            dg.RunRequest(
                run_key=f"market-morning-{today}",
                partition_key=today.isoformat(),
                asset_selection=[dg.AssetKey(name) for name in PRICES_AND_ACTUALS],
            ),
            dg.RunRequest(
                run_key=f"driver-forecasts-{tomorrow}",
                partition_key=tomorrow.isoformat(),
                asset_selection=[dg.AssetKey("driver_forecasts")],
            ),
        ]

    @dg.schedule(
        job=forecast_accuracy_job,
        cron_schedule=daily_cron(rhythm.accuracy_run),
        execution_timezone=MARKET_TZ,
        default_status=RUNNING,
    )
    def forecast_accuracy_schedule(context: dg.ScheduleEvaluationContext):
        """Score yesterday once its real-time prices are in (the settled run loads them)."""
        day = _local_date(context) - dt.timedelta(days=1)
        return dg.RunRequest(run_key=f"accuracy-{day}", partition_key=day.isoformat())

    weekly_retraining_schedule = dg.ScheduleDefinition(
        job=weekly_retraining,
        cron_schedule="0 5 * * 1",
        execution_timezone=MARKET_TZ,
        default_status=RUNNING,
        description="Mondays 05:00 Central: retrain and re-gate, before the week's first forecast.",
    )
    return dg.Definitions(
        jobs=[market_data_job, dart_forecast_job, forecast_accuracy_job, weekly_retraining],
        schedules=[
            settled_market_schedule,
            morning_market_schedule,
            forecast_accuracy_schedule,
            weekly_retraining_schedule,
        ],
        sensors=[build_forecast_sensor(rhythm)],
    )

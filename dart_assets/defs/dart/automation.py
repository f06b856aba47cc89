"""The desk's daily rhythm (America/Chicago), anchored on the decision time (DART_DECISION_TIME, default 09:00, before
the DAM closes at 10:00): market data two hours before it, yesterday's score ninety minutes before, tomorrow's
forecast an hour before, fresh by the decision time itself; plus a weekly retrain. All schedules are RUNNING by
default, so `dagster dev` runs them (the transformer graph has its own monthly refresh)."""

import datetime as dt
from dataclasses import dataclass

import dagster as dg

from dart_assets.market.timeutil import MARKET_TZ

RUNNING = dg.DefaultScheduleStatus.RUNNING
# Jobs of one step or a short chain run in the run's own process: a spawned step process costs 2-5 s of start-up,
# more than these steps' work. Only the retraining job, whose trainers run side by side, uses the multiprocess
# executor (the default of the definitions).
IN_PROCESS = dg.in_process_executor


@dataclass(frozen=True)
class Rhythm:
    """When each morning run happens on D-1, Central time, for a given decision time."""

    decision_time: dt.time

    def _before(self, minutes: int) -> dt.time:
        return (dt.datetime.combine(dt.date(2000, 1, 1), self.decision_time) - dt.timedelta(minutes=minutes)).time()

    @property
    def market_run(self) -> dt.time:
        """Loads yesterday (now settled in real time) and today (its DAM cleared yesterday)."""
        return self._before(120)

    @property
    def accuracy_run(self) -> dt.time:
        """Scores yesterday once the market run has loaded its real-time prices."""
        return self._before(90)

    @property
    def forecast_run(self) -> dt.time:
        """Forecasts tomorrow from the data the market run loaded."""
        return self._before(60)

    @property
    def market_deadline(self) -> dt.time:
        """The market data must be in when the forecast runs."""
        return self.forecast_run

    @property
    def forecast_deadline(self) -> dt.time:
        """The forecast must exist by the decision time."""
        return self.decision_time


def daily_cron(at: dt.time) -> str:
    return f"{at.minute} {at.hour} * * *"


def freshness(deadline: dt.time) -> dg.FreshnessPolicy:
    """Red in the UI if not materialized by `deadline` Central each day."""
    return dg.FreshnessPolicy.cron(
        deadline_cron=daily_cron(deadline), lower_bound_delta=dt.timedelta(hours=24), timezone=MARKET_TZ
    )


def _local_date(context: dg.ScheduleEvaluationContext) -> dt.date:
    from zoneinfo import ZoneInfo

    return context.scheduled_execution_time.astimezone(ZoneInfo(MARKET_TZ)).date()


def build_automation(rhythm: Rhythm) -> dg.Definitions:
    """The DART jobs and their schedules."""
    market_data_job = dg.define_asset_job(
        "market_data_job",
        selection=dg.AssetSelection.assets("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"),
        executor_def=IN_PROCESS,
        description="DAM, RTM, system conditions and driver forecasts for the selected delivery days.",
    )
    dart_forecast_job = dg.define_asset_job(
        "dart_forecast_job",
        selection=dg.AssetSelection.assets("driver_forecasts", "dart_forecast"),
        executor_def=IN_PROCESS,
        description="Tomorrow's driver forecasts as posted so far, then its DART forecast from the champion.",
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
        cron_schedule=daily_cron(rhythm.market_run),
        execution_timezone=MARKET_TZ,
        default_status=RUNNING,
    )
    def market_data_schedule(context: dg.ScheduleEvaluationContext):
        """Yesterday (now settled in real time) and today (its DAM cleared yesterday)."""
        today = _local_date(context)
        for day in (today - dt.timedelta(days=1), today):
            yield dg.RunRequest(run_key=f"market-{day.isoformat()}", partition_key=day.isoformat())

    dart_forecast_schedule = dg.build_schedule_from_partitioned_job(
        dart_forecast_job,
        hour_of_day=rhythm.forecast_run.hour,
        minute_of_hour=rhythm.forecast_run.minute,
        default_status=RUNNING,
        description=f"{rhythm.forecast_run:%H:%M} Central: forecast tomorrow, before the decision time "
        f"({rhythm.decision_time:%H:%M}) and the day-ahead market's close at 10:00.",
    )

    @dg.schedule(
        job=forecast_accuracy_job,
        cron_schedule=daily_cron(rhythm.accuracy_run),
        execution_timezone=MARKET_TZ,
        default_status=RUNNING,
    )
    def forecast_accuracy_schedule(context: dg.ScheduleEvaluationContext):
        """Score yesterday once its real-time prices are in (the market run loads them)."""
        day = _local_date(context) - dt.timedelta(days=1)
        return dg.RunRequest(run_key=f"accuracy-{day.isoformat()}", partition_key=day.isoformat())

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
            market_data_schedule,
            dart_forecast_schedule,
            forecast_accuracy_schedule,
            weekly_retraining_schedule,
        ],
    )

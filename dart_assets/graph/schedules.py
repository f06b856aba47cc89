"""The desk's daily rhythm (America/Chicago): data at 07:00, tomorrow's forecast at 08:00 (before the DAM closes
at 10:00), yesterday's score at 07:30, and a weekly retrain. All RUNNING by default so `dagster dev` runs them."""

import datetime as dt

import dagster as dg

from dart_assets.market.timeutil import MARKET_TZ

RUNNING = dg.DefaultScheduleStatus.RUNNING
# Jobs of one step or a short chain run in the run's own process: a spawned step process costs 2-5 s of start-up,
# more than these steps' work. Only the retraining job, whose three trainers run side by side, uses the
# multiprocess executor (the default in definitions.py).
IN_PROCESS = dg.in_process_executor

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
    selection=dg.AssetSelection.assets("hourly_features", "lgbm_model", "xgb_model", "deep_model", "promoted_model"),
    description="Rebuild features, retrain the three candidates in parallel, promote the best if it passes the gate.",
)
transformer_refresh = dg.define_asset_job(
    "transformer_refresh",
    selection=dg.AssetSelection.groups("transformer"),
    executor_def=IN_PROCESS,
    description="Refit the transformer load model and redo the overload forecast.",
)


def _local_date(context: dg.ScheduleEvaluationContext) -> dt.date:
    from zoneinfo import ZoneInfo

    return context.scheduled_execution_time.astimezone(ZoneInfo(MARKET_TZ)).date()


@dg.schedule(job=market_data_job, cron_schedule="0 7 * * *", execution_timezone=MARKET_TZ, default_status=RUNNING)
def market_data_schedule(context: dg.ScheduleEvaluationContext):
    """Yesterday (now settled in real time) and today (its DAM cleared yesterday)."""
    today = _local_date(context)
    for day in (today - dt.timedelta(days=1), today):
        yield dg.RunRequest(run_key=f"market-{day.isoformat()}", partition_key=day.isoformat())


dart_forecast_schedule = dg.build_schedule_from_partitioned_job(
    dart_forecast_job,
    hour_of_day=8,
    minute_of_hour=0,
    default_status=RUNNING,
    description="08:00 Central: forecast tomorrow, before the day-ahead market closes at 10:00.",
)


@dg.schedule(
    job=forecast_accuracy_job, cron_schedule="30 7 * * *", execution_timezone=MARKET_TZ, default_status=RUNNING
)
def forecast_accuracy_schedule(context: dg.ScheduleEvaluationContext):
    """Score yesterday once its real-time prices are in (the 07:00 market run loads them)."""
    day = _local_date(context) - dt.timedelta(days=1)
    return dg.RunRequest(run_key=f"accuracy-{day.isoformat()}", partition_key=day.isoformat())


weekly_retraining_schedule = dg.ScheduleDefinition(
    job=weekly_retraining,
    cron_schedule="0 5 * * 1",
    execution_timezone=MARKET_TZ,
    default_status=RUNNING,
    description="Mondays 05:00 Central: retrain and re-gate, before the week's first forecast.",
)
transformer_refresh_schedule = dg.ScheduleDefinition(
    job=transformer_refresh,
    cron_schedule="0 6 1 * *",
    execution_timezone=MARKET_TZ,
    default_status=RUNNING,
    description="Monthly: refit the transformer load trend with the new month of history.",
)

jobs = [market_data_job, dart_forecast_job, forecast_accuracy_job, weekly_retraining, transformer_refresh]
schedules = [
    market_data_schedule,
    dart_forecast_schedule,
    forecast_accuracy_schedule,
    weekly_retraining_schedule,
    transformer_refresh_schedule,
]

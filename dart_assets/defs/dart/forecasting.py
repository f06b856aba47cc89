"""Daily forecasts: tomorrow's hourly DART forecasts from the champion, then their accuracy once RTM settles.

The assets are declared in `build_forecast_assets` (their partitions and freshness deadline come from the
settings); what they compute is in the module-level functions below it.
"""

import base64
import datetime as dt
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg
import pandas as pd

from dart_assets import forecasting
from dart_assets.defs.dart.promotion import promoted_model
from dart_assets.defs.dart.training import MODEL_ASSET_KEYS
from dart_assets.defs.resources.market_source import MarketDataSource
from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.market.timeutil import decision_time_utc
from dart_assets.ml import MODEL_NAME

if TYPE_CHECKING:
    from dart_assets.ml.champion import ResolvedChampion

GROUP = "forecasting"
DRIFT_WINDOW_DAYS = 14


def _window(start: int, end: int) -> dg.TimeWindowPartitionMapping:
    """Days before the first partition do not exist; the features treat them as missing history."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(
            start_offset=start, end_offset=end, allow_nonexistent_upstream_partitions=True
        )


def build_forecast_assets(
    days: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy, decision_time: dt.time
) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """dart_forecast (due by the decision time) and forecast_accuracy, one partition per delivery day."""

    @dg.asset(
        group_name=GROUP,
        partitions_def=days,
        ins={
            # Only what can be public at the decision time on D-1: forecasting.known_at_decision_time keeps, row by
            # row, D-1's RTM hours and actuals published by then and the forecast postings for D stamped by then.
            "dam_prices": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, -1)),
            "rtm_prices": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, -1)),
            "system_conditions": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, -1)),
            "driver_forecasts": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, 0)),
        },
        deps=[promoted_model],
        kinds={"pandas", "parquet", "mlflow"},
        owners=["team:trading-desk"],
        freshness_policy=freshness,
        # A backfill is one run: the inputs load once and every day is forecast in one pass (exactly as its own
        # morning run would, `forecasting.forecast_days`), each by the version that was champion at its decision time.
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def dart_forecast(
        context: dg.AssetExecutionContext,
        market_source: MarketDataSource,
        mlflow: MlflowResource,
        dam_prices: pd.DataFrame,
        rtm_prices: pd.DataFrame,
        system_conditions: pd.DataFrame,
        driver_forecasts: pd.DataFrame,
    ) -> pd.DataFrame:
        """Delivery day D's hourly DART forecast (P10/P50/P90) per settlement point, from the registry's champion
        and the data known at the decision time on D-1 (a backfill: every day of its range)."""
        inputs = {
            "dam": dam_prices,
            "rtm": rtm_prices,
            "system": system_conditions,
            "driver_forecasts": driver_forecasts,
        }
        return forecast(context, market_source, mlflow, inputs, decision_time)

    @dg.asset(
        group_name=GROUP,
        partitions_def=days,
        ins={
            "dart_forecast": dg.AssetIn(partition_mapping=_window(-(DRIFT_WINDOW_DAYS - 1), 0)),
            "dam_prices": dg.AssetIn(partition_mapping=_window(-(DRIFT_WINDOW_DAYS - 1), 0)),
            "rtm_prices": dg.AssetIn(partition_mapping=_window(-(DRIFT_WINDOW_DAYS - 1), 0)),
        },
        kinds={"pandas", "parquet"},
        owners=["team:trading-desk"],
        check_specs=[
            dg.AssetCheckSpec(
                "no_drift",
                asset="forecast_accuracy",
                description=f"Rolling {DRIFT_WINDOW_DAYS}-day MAE beats the zero-spread baseline.",
            )
        ],
    )
    def forecast_accuracy(
        context: dg.AssetExecutionContext,
        dart_forecast: pd.DataFrame,
        dam_prices: pd.DataFrame,
        rtm_prices: pd.DataFrame,
    ):
        """Day D's forecast scored against realised DART (MAE, RMSE, sign accuracy, band coverage vs zero spread),
        with a rolling 14-day view."""
        yield from score(context, dart_forecast, dam_prices, rtm_prices)

    return dart_forecast, forecast_accuracy


def forecast(
    context: dg.AssetExecutionContext,
    market_source: MarketDataSource,
    mlflow: MlflowResource,
    inputs: dict[str, pd.DataFrame],
    decision_time: dt.time,
) -> pd.DataFrame:
    from dart_assets.common import registry
    from dart_assets.common.tracking import TrackingUnreachableError
    from dart_assets.ml.artifacts import BundleIntegrityError
    from dart_assets.ml.champion import resolve_champion_bundles

    days = [pd.Timestamp(key) for key in context.partition_keys]
    try:
        champions = resolve_champion_bundles(
            mlflow.tracking_uri,
            MODEL_NAME,
            mlflow.model_cache_dir,
            [decision_time_utc(day, decision_time) for day in days],
            aliases=(registry.CHAMPION, registry.FALLBACK),  # the fallback while no model ever passed the gate
            warn=context.log.warning,
        )
    except (TrackingUnreachableError, BundleIntegrityError) as exc:
        raise dg.Failure(str(exc)) from None
    if champions is None:
        raise dg.Failure(
            f"no champion and no fallback in the registry ({MODEL_NAME}@champion, @fallback): materialize "
            f"hourly_features, {', '.join(MODEL_ASSET_KEYS)} and promoted_model first"
        )
    by_version: dict[str, list[pd.Timestamp]] = {}
    models = {}
    for day, champion in zip(days, champions, strict=True):
        by_version.setdefault(champion.version, []).append(day)
        models[champion.version] = champion.model
    tables = []
    for version, version_days in by_version.items():
        model = models[version]
        try:
            table = forecasting.forecast_days(
                model, points=market_source.settlement_points, days=version_days, decision_time=decision_time, **inputs
            )
        except (forecasting.FeatureMismatchError, forecasting.MissingInputError) as exc:
            raise dg.Failure(str(exc)) from exc
        table["model_version"] = version
        table["model_family"] = model.family
        tables.append(table)
    table = pd.concat(tables, ignore_index=True).sort_values(["timestamp_utc", "settlement_point"], ignore_index=True)
    # Each partition's materialization describes its own day and the version that served it; the chart is drawn for
    # the run's last day only (a morning run has one day; a year's backfill would store 365 charts).
    by_day = dict(iter(table.groupby("delivery_date")))
    for key, day, champion in zip(context.partition_keys, days, champions, strict=True):
        context.add_asset_metadata(day_metadata(by_day[day], day, champion, chart=day == days[-1]), partition_key=key)
    if len(days) > 1:
        context.add_output_metadata(
            {
                "days_forecast": len(days),
                "versions_used": ", ".join(f"v{v}: {len(d)} day(s)" for v, d in by_version.items()),
            }
        )
    return table


def day_metadata(rows: pd.DataFrame, day: pd.Timestamp, champion: "ResolvedChampion", chart: bool) -> dict:
    """What the UI shows for one delivery day's forecast: the version that served it, its band and trades."""
    model = champion.model
    # A naive forecast (the fallback alias, or a champion whose serving rules gave the model no weight) says so.
    label = f"fallback: {model.baseline}" if model.baseline else model.family
    rules = model.serving
    metadata = {
        "model": f"{MODEL_NAME} v{champion.version} @{champion.alias} ({model.family})",
        "served": label,
        "fallback": model.baseline is not None,
        "model_source": champion.source,
        "model_history": champion.history
        or f"no champion yet: the fallback v{champion.version} (the best naive baseline per point)",
        "decision_time_utc": str(rows["decision_time_utc"].iloc[0]),
        "mean_forecast": float(rows["dart_forecast"].mean()),
        "mean_band_width": float((rows["dart_p90"] - rows["dart_p10"]).mean()),
        "hours_forecast_negative": int((rows["dart_forecast"] < 0).sum()),
        "trade_threshold": rules.trade_threshold,
        "hours_to_trade": int((rows["dart_forecast"].abs() > rules.trade_threshold).sum()),
    }
    if chart:
        png = forecasting.forecast_chart(rows, f"DART forecast for {day.date()} ({label}, v{champion.version})")
        metadata["chart"] = dg.MetadataValue.md(f"![forecast](data:image/png;base64,{base64.b64encode(png).decode()})")
    return metadata


def score(
    context: dg.AssetExecutionContext, dart_forecast: pd.DataFrame, dam_prices: pd.DataFrame, rtm_prices: pd.DataFrame
) -> Iterator:
    day = pd.Timestamp(context.partition_key)
    scores = []
    for delivery_date, frame in dart_forecast.groupby("delivery_date"):
        day_score = forecasting.score_day(frame, dam_prices, rtm_prices)
        if day_score is not None:
            scores.append(
                {"delivery_date": delivery_date, **day_score, "model_version": frame["model_version"].iloc[0]}
            )
    daily = pd.DataFrame(scores)
    if daily.empty or day not in set(daily["delivery_date"]):
        raise dg.Failure(
            f"{day.date()}: no complete actuals to score yet; materialize dam_prices and rtm_prices for {day.date()} "
            "after the day has settled (and dart_forecast for it first)"
        )
    today = daily[daily["delivery_date"] == day].reset_index(drop=True)
    rolling = forecasting.rolling_view(daily, DRIFT_WINDOW_DAYS)
    yield dg.Output(
        today,
        metadata={
            "mae": float(today["mae"].iloc[0]),
            "zero_spread_mae": float(today["zero_mae"].iloc[0]),
            "band_coverage": float(today["band_coverage"].iloc[0]),
            "sign_accuracy": float(today["sign_accuracy"].iloc[0]),
            f"rolling_{DRIFT_WINDOW_DAYS}d": dg.MetadataValue.json(rolling),
            "history": dg.MetadataValue.md(daily.to_markdown(index=False, floatfmt=".2f")),
        },
    )
    drifted = rolling["mae"] > rolling["zero_mae"]
    advice = "; the model has drifted: retrain (weekly_retraining) or roll back the champion" if drifted else ""
    yield dg.AssetCheckResult(
        check_name="no_drift",
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"rolling {int(rolling['days'])}-day MAE {rolling['mae']:.2f} vs zero-spread "
        f"{rolling['zero_mae']:.2f} $/MWh{advice}",
        metadata=rolling,
    )

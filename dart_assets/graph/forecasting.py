"""Daily forecasts: tomorrow's 24 hourly DART forecasts from the champion, then their accuracy once RTM settles."""

import base64
import datetime as dt
import warnings

import dagster as dg
import pandas as pd

from dart_assets import forecasting
from dart_assets.graph.partitions import forecast_days
from dart_assets.graph.promotion import MODEL_NAME, promoted_model
from dart_assets.market.timeutil import MARKET_TZ
from dart_assets.resources.market_source import MarketDataSource
from dart_assets.resources.mlflow import MlflowResource

DRIFT_WINDOW_DAYS = 14


def _window(start: int, end: int) -> dg.TimeWindowPartitionMapping:
    """Days before the first partition do not exist; the features treat them as missing history."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(
            start_offset=start, end_offset=end, allow_nonexistent_upstream_partitions=True
        )


def _png_markdown(png: bytes, alt: str) -> dg.MetadataValue:
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def _day(context: dg.AssetExecutionContext) -> pd.Timestamp:
    return pd.Timestamp(context.partition_key)


@dg.asset(
    group_name="forecasting",
    partitions_def=forecast_days,
    ins={
        # Only what can be public at the decision time on D-1: forecasting.known_at_decision_time keeps, row by row,
        # D-1's RTM hours and actuals published by then and the forecast postings for D stamped by then.
        "dam_prices": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, -1)),
        "rtm_prices": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, -1)),
        "system_conditions": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, -1)),
        "driver_forecasts": dg.AssetIn(partition_mapping=_window(-forecasting.HISTORY_DAYS, 0)),
    },
    deps=[promoted_model],
    kinds={"pandas", "parquet", "mlflow"},
    owners=["team:trading-desk"],
    freshness_policy=dg.FreshnessPolicy.cron(
        deadline_cron="0 9 * * *", lower_bound_delta=dt.timedelta(hours=24), timezone=MARKET_TZ
    ),
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
    """Delivery day D's hourly DART forecast (P10/P50/P90) per settlement point, from the registry's champion and the
    data public at the decision time (D-1 09:00 Central)."""
    from dart_assets.ml import registry, tracking

    day = _day(context)
    client = mlflow.client()
    champion = registry.champion(client, MODEL_NAME)
    if champion is None:
        raise dg.Failure(
            f"no champion in the registry ({MODEL_NAME}@champion): materialize hourly_features, lgbm_model, xgb_model, "
            "deep_model and promoted_model first (the promotion gate must pass)"
        )
    model = tracking.load_bundle_from_run(champion.run_id)
    try:
        table = forecasting.forecast_day(
            model,
            dam_prices,
            rtm_prices,
            system_conditions,
            driver_forecasts,
            market_source.settlement_points,
            day,
            decision_time=forecasting.DEFAULT_DECISION_TIME,
        )
    except (forecasting.FeatureMismatchError, forecasting.MissingInputError) as exc:
        raise dg.Failure(str(exc)) from exc
    table["model_version"] = str(champion.version)
    table["model_family"] = model.family
    context.add_output_metadata(
        {
            "chart": _png_markdown(
                forecasting.forecast_chart(
                    table, f"DART forecast for {day.date()} ({model.family} v{champion.version})"
                ),
                "forecast",
            ),
            "model": f"{MODEL_NAME} v{champion.version} ({model.family})",
            "decision_time_utc": str(table["decision_time_utc"].iloc[0]),
            "mean_forecast": float(table["dart_forecast"].mean()),
            "mean_band_width": float((table["dart_p90"] - table["dart_p10"]).mean()),
            "hours_forecast_negative": int((table["dart_forecast"] < 0).sum()),
        }
    )
    return table


@dg.asset(
    group_name="forecasting",
    partitions_def=forecast_days,
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
    context: dg.AssetExecutionContext, dart_forecast: pd.DataFrame, dam_prices: pd.DataFrame, rtm_prices: pd.DataFrame
):
    """Day D's forecast scored against realised DART (MAE, RMSE, sign accuracy, band coverage vs zero spread), with a
    rolling 14-day view."""
    day = _day(context)
    scores = []
    for delivery_date, forecast in dart_forecast.groupby("delivery_date"):
        score = forecasting.score_day(forecast, dam_prices, rtm_prices)
        if score is not None:
            scores.append({"delivery_date": delivery_date, **score, "model_version": forecast["model_version"].iloc[0]})
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
    yield dg.AssetCheckResult(
        check_name="no_drift",
        passed=not drifted,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"rolling {int(rolling['days'])}-day MAE {rolling['mae']:.2f} vs zero-spread "
            f"{rolling['zero_mae']:.2f} $/MWh"
            + ("; the model has drifted: retrain (weekly_retraining) or roll back the champion" if drifted else "")
        ),
        metadata=rolling,
    )

"""Market data (DAM, RTM, system conditions, driver forecasts) per delivery day, and the hourly feature table."""

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pandas as pd

from dart_assets import features
from dart_assets.defs.resources.clock import Clock
from dart_assets.defs.resources.market_source import MarketDataSource
from dart_assets.market import quality

MARKET_TABLES = {
    "dam_prices": "ERCOT day-ahead settlement point prices, hourly, $/MWh.",
    "rtm_prices": "ERCOT real-time settlement point prices, 15-minute intervals averaged to the hour, $/MWh.",
    "system_conditions": "Actual system load, wind, solar and temperature per hour, where the source has them.",
    "driver_forecasts": "Load, wind, solar and temperature forecasts (system and regional) per delivery hour and "
    "posting time; features use the latest posting at or before the decision time.",
}
CHECK_SEVERITY = {True: dg.AssetCheckSeverity.ERROR, False: dg.AssetCheckSeverity.WARN}
# Materialization metadata: when the run read its source (UTC). A table holds what was published by then; the
# forecast sensor compares it with the decision time.
AS_OF = "data_as_of_utc"


def _check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(check, asset=name, description=description)
        for name in MARKET_TABLES
        for check, description in quality.CHECKS.get(name, {}).items()
    ]


def build_market_data(
    days: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy, decision_time: dt.time
) -> dg.AssetsDefinition:
    """The four market tables, one partition per delivery day; a range of days is one run. A day without data is
    an empty partition whose no_missing_days check fails (ERROR, not blocking: the rest of the range is stored)."""

    @dg.multi_asset(
        outs={
            name: dg.AssetOut(
                description=description,
                group_name="market_data",
                kinds={"pandas", "parquet"},
                owners=["team:market-data"],
                is_required=False,
                freshness_policy=freshness,
            )
            for name, description in MARKET_TABLES.items()
        },
        check_specs=_check_specs(),
        partitions_def=days,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        name="market_data",
    )
    def market_data(context: dg.AssetExecutionContext, market_source: MarketDataSource, clock: Clock):
        """Read every selected market table for the run's delivery days once, validate, and check its quality
        against what can be published by the time of the read."""
        yield from _read_and_check(context, market_source, clock.now(), decision_time)

    return market_data


def _read_and_check(
    context: dg.AssetExecutionContext, market_source: MarketDataSource, as_of: pd.Timestamp, decision_time: dt.time
) -> Iterator:
    window = context.partition_time_window
    start = pd.Timestamp(window.start.date())
    end = pd.Timestamp(window.end.date()) - pd.Timedelta(days=1)
    context.log.info(f"reading {market_source.label} for {start.date()}..{end.date()} as of {as_of}")
    selected = [key.to_user_string() for key in context.selected_asset_keys]
    tables = market_source.read(start.date(), end.date(), tables=[n for n in MARKET_TABLES if n in selected])
    for name, frame in tables.items():
        yield dg.Output(frame, output_name=name, metadata={"source": market_source.label, AS_OF: as_of.isoformat()})
        results = quality.evaluate(
            name,
            frame,
            start,
            end,
            points=list(market_source.settlement_points),
            source=market_source.label,
            as_of=as_of,
            decision_time=decision_time,
        )
        for result in results:
            if dg.AssetCheckKey(dg.AssetKey(name), result.check) in context.selected_asset_check_keys:
                yield dg.AssetCheckResult(
                    asset_key=name,
                    check_name=result.check,
                    passed=result.passed,
                    severity=CHECK_SEVERITY[result.severe],
                    description=result.description,
                    metadata=result.metadata,
                )


def build_hourly_features(decision_time: dt.time) -> dg.AssetsDefinition:
    """hourly_features with the cutoff of the configured decision time."""

    @dg.asset(
        group_name="market_data",
        kinds={"pandas", "parquet"},
        owners=["team:market-data"],
        ins={name: dg.AssetIn(name) for name in MARKET_TABLES},
    )
    def hourly_features(
        context: dg.AssetExecutionContext,
        market_source: MarketDataSource,
        dam_prices: pd.DataFrame,
        rtm_prices: pd.DataFrame,
        system_conditions: pd.DataFrame,
        driver_forecasts: pd.DataFrame,
    ) -> pd.DataFrame:
        """Hourly DART target (DAM - RTM, $/MWh) with the features a trader knows at the decision time on D-1, for
        every materialized day with a target and its key inputs; the days left out are in metadata."""
        points = market_source.settlement_points
        tables = {
            "dam_prices": dam_prices,
            "rtm_prices": rtm_prices,
            "system_conditions": system_conditions,
            "driver_forecasts": driver_forecasts,
        }
        table, left_out, left_out_days = features.hourly_features(tables, points, decision_time)
        context.add_output_metadata(_features_metadata(table, points, decision_time, left_out, left_out_days))
        return table

    return hourly_features


def _features_metadata(
    table: pd.DataFrame, points: list[str], decision_time: dt.time, left_out: dict, left_out_days: pd.DataFrame
) -> dict:
    """The rows and days every model trains on, and the left-out days with their reasons (a table in the UI)."""
    dart = table[features.TARGET]
    why = (
        left_out_days.rename(columns={"days": "delivery days", "rows": "rows left out"}).to_markdown(index=False)
        if len(left_out_days)
        else "No day left out."
    )
    return {
        "training_rows": left_out["rows_kept"],
        "training_days": left_out["days_kept"],
        "first_day": left_out["first_day"],
        "last_day": left_out["last_day"],
        "left_out_days": dg.MetadataValue.md(why),
        "feature_columns": dg.MetadataValue.json(features.feature_columns(table)),
        "settlement_points": dg.MetadataValue.json(list(points)),
        "decision_time_central": decision_time.strftime("%H:%M"),
        "rows_without_target": left_out["rows_without_target"],
        "rows_missing_inputs": left_out["rows_missing_inputs"],
        "days_without_target": len(left_out["days_without_target"]),
        "days_missing_inputs": len(left_out["days_missing_inputs"]),
        "left_out": dg.MetadataValue.json({k: left_out[k] for k in ("days_without_target", "days_missing_inputs")}),
        "dart_mean": float(dart.mean()),
        "dart_std": float(dart.std()),
        "dart_negative_share": float((dart < 0).mean()),
    }

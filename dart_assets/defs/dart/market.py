"""Market data (DAM, RTM, system conditions) per delivery day, and the hourly feature table built on it."""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from dart_assets import features
from dart_assets.defs.resources.market_source import MarketDataSource
from dart_assets.market import quality

MARKET_TABLES = {
    "dam_prices": "ERCOT day-ahead settlement point prices, hourly, $/MWh.",
    "rtm_prices": "ERCOT real-time settlement point prices, 15-minute intervals averaged to the hour, $/MWh.",
    "system_conditions": "System load and weather/renewable drivers per hour: actuals and day-ahead forecasts "
    "where the source has them.",
}
CHECK_SEVERITY = {True: dg.AssetCheckSeverity.ERROR, False: dg.AssetCheckSeverity.WARN}


def _check_specs() -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(check, asset=name, description=description)
        for name in MARKET_TABLES
        for check, description in quality.CHECKS[name].items()
    ]


def build_market_data(days: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy) -> dg.AssetsDefinition:
    """The three market tables, one partition per delivery day; a range of days is one run."""

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
    def market_data(context: dg.AssetExecutionContext, market_source: MarketDataSource):
        """Read every selected market table for the run's delivery days once, validate, and check its quality."""
        yield from _read_and_check(context, market_source)

    return market_data


def _read_and_check(context: dg.AssetExecutionContext, market_source: MarketDataSource) -> Iterator:
    window = context.partition_time_window
    start = pd.Timestamp(window.start.date())
    end = pd.Timestamp(window.end.date()) - pd.Timedelta(days=1)
    context.log.info(f"reading {market_source.label} for {start.date()}..{end.date()}")
    tables = market_source.read(start.date(), end.date())
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    for name in MARKET_TABLES:
        if name not in selected:
            continue
        frame = tables[name]
        yield dg.Output(frame, output_name=name, metadata={"source": market_source.label})
        for result in quality.evaluate(name, frame, start, end):
            if dg.AssetCheckKey(dg.AssetKey(name), result.check) in context.selected_asset_check_keys:
                yield dg.AssetCheckResult(
                    asset_key=name,
                    check_name=result.check,
                    passed=result.passed,
                    severity=CHECK_SEVERITY[result.severe],
                    description=result.description,
                    metadata=result.metadata,
                )


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
) -> pd.DataFrame:
    """Hourly DART target (DAM - RTM, $/MWh) with the features a trader knows at the decision time, for every
    materialized day."""
    table = features.build_features(dam_prices, rtm_prices, system_conditions, market_source.settlement_points)
    dart = table[features.TARGET].dropna()
    context.add_output_metadata(
        {
            "feature_columns": dg.MetadataValue.json(features.feature_columns(table)),
            "settlement_points": dg.MetadataValue.json(list(market_source.settlement_points)),
            "dart_mean": float(dart.mean()),
            "dart_std": float(dart.std()),
            "dart_negative_share": float((dart < 0).mean()),
        }
    )
    return table

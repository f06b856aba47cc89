"""Delivery-day partitions (America/Chicago), shared by the market, forecast and accuracy assets."""

from dataclasses import dataclass

import dagster as dg

from dart_assets.market.timeutil import MARKET_TZ


@dataclass(frozen=True)
class DeliveryDays:
    market: dg.DailyPartitionsDefinition
    """Up to tomorrow: tomorrow's driver forecasts are posted today, before the decision time, and its DAM clears
    today (its RTM comes tomorrow)."""
    forecast: dg.DailyPartitionsDefinition
    """Up to tomorrow: the day being forecast before its day-ahead market closes."""


def build_partitions(start_date: str) -> DeliveryDays:
    return DeliveryDays(
        market=dg.DailyPartitionsDefinition(start_date=start_date, timezone=MARKET_TZ, end_offset=2),
        forecast=dg.DailyPartitionsDefinition(start_date=start_date, timezone=MARKET_TZ, end_offset=2),
    )

"""Delivery-day partitions (America/Chicago), shared by the market, forecast and accuracy assets."""

import dagster as dg

from dart_assets.market.timeutil import MARKET_TZ
from dart_assets.settings import load_settings

START_DATE = load_settings().start_date

# Up to today: today's DAM cleared yesterday, so today's delivery day already has data.
market_days = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=MARKET_TZ, end_offset=1)
# Up to tomorrow: the day being forecast before its day-ahead market closes.
forecast_days = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=MARKET_TZ, end_offset=2)

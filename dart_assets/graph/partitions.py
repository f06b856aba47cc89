"""Delivery-day partitions (America/Chicago), shared by the market, forecast and accuracy assets."""

import dagster as dg

from dart_assets.market.timeutil import MARKET_TZ
from dart_assets.settings import load_settings

START_DATE = load_settings().start_date

# Up to tomorrow: tomorrow's driver forecasts are posted today, before the decision time, and its DAM clears today.
# (Its RTM comes tomorrow: the 07:00 market run loads yesterday and today, the forecast run tomorrow's forecasts.)
market_days = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=MARKET_TZ, end_offset=2)
# Up to tomorrow: the day being forecast before its day-ahead market closes.
forecast_days = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=MARKET_TZ, end_offset=2)

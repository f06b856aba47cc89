"""The market data source as a resource: which registered source (a dropdown in the launchpad), its path, the points,
and for the download source its cache folder and ERCOT API credentials (unresolved `EnvVar`s until a run starts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg
import pandas as pd
from pydantic import Field, model_validator

from dart_assets.market import schemas
from dart_assets.market.sources import SOURCES, SourceName, SourceOptions
from dart_assets.market.timeutil import day_hours


class MarketDataSource(dg.ConfigurableResource):
    """Reads the market tables for a range of delivery days, validated against the tidy schemas."""

    source: SourceName = "synthetic"
    path: str | None = None
    settlement_points: list[str]
    cache_dir: str | None = Field(None, description="Where the ercot_api source caches its downloads.")
    ercot_api_username: str | None = None
    ercot_api_password: str | None = None
    ercot_api_subscription_key: str | None = None

    @model_validator(mode="after")
    def _path_when_needed(self) -> MarketDataSource:
        if SOURCES[self.source].needs_path and not self.path:
            raise ValueError(f"market source {self.source!r} needs a path (DART_DATA_PATH)")
        return self

    @property
    def label(self) -> str:
        return f"{self.source}:{self.path}" if SOURCES[self.source].needs_path else self.source

    def _options(self) -> SourceOptions:
        credentials = None
        if self.source == "ercot_api":
            from dart_assets.market.ercot_api import ApiCredentials

            credentials = ApiCredentials(
                self.ercot_api_username, self.ercot_api_password, self.ercot_api_subscription_key
            )
        return SourceOptions(path=self.path, cache_dir=self.cache_dir, credentials=credentials)

    def read(
        self, start: dt.date, end: dt.date, tables: Sequence[str] = schemas.MARKET_TABLES
    ) -> dict[str, pd.DataFrame]:
        """The wanted tables for delivery days start..end inclusive, validated. A source without actual drivers
        gives a system_conditions table of the hours alone, without forecast postings an empty driver_forecasts
        (the features then use lagged actuals); days a source has no rows for are simply absent."""
        wanted = list(tables)
        read = SOURCES[self.source].read(self._options(), start, end, list(self.settlement_points), wanted)
        defaults = {
            "system_conditions": lambda: pd.concat(
                [day_hours(d) for d in pd.date_range(start, end, freq="D")], ignore_index=True
            ),
            "driver_forecasts": lambda: schemas.empty("driver_forecasts"),
        }
        out = {}
        for kind in wanted:
            frame = read.get(kind)
            if frame is None:
                frame = defaults[kind]() if kind in defaults else schemas.empty(kind)
            out[kind] = schemas.validate(kind, frame, self.label)
        return out

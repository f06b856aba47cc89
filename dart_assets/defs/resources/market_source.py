"""The market data source as a resource: which registered source (a dropdown in the launchpad), its path, the points."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
from pydantic import model_validator

from dart_assets.market import schemas
from dart_assets.market.sources import SOURCES, SourceName
from dart_assets.market.timeutil import day_hours


class MarketDataSource(dg.ConfigurableResource):
    """Reads the market tables for a range of delivery days, validated against the tidy schema."""

    source: SourceName = "synthetic"
    path: str | None = None
    settlement_points: list[str]

    @model_validator(mode="after")
    def _path_when_needed(self) -> MarketDataSource:
        if SOURCES[self.source].needs_path and not self.path:
            raise ValueError(f"market source {self.source!r} needs a path (DART_DATA_PATH)")
        return self

    @property
    def label(self) -> str:
        return f"{self.source}:{self.path}" if SOURCES[self.source].needs_path else self.source

    def read(self, start: dt.date, end: dt.date) -> dict[str, pd.DataFrame]:
        """The source's tables for delivery days start..end inclusive. Sources without drivers give a
        system_conditions table of the hours alone, so every partition exists."""
        tables = SOURCES[self.source].read(self.path, start, end, list(self.settlement_points))
        system = tables.get("system_conditions")
        if system is None:
            system = pd.concat([day_hours(d) for d in pd.date_range(start, end, freq="D")], ignore_index=True)
        tables = {**tables, "system_conditions": system}
        return {kind: schemas.validate(kind, frame, self.label) for kind, frame in tables.items() if frame is not None}

    def driver_forecasts(self, day: dt.date) -> pd.DataFrame | None:
        """Day-ahead driver forecasts for `day`, as issued before its decision time; None if the source has none
        (the features then fall back to lagged actuals)."""
        forecasts = SOURCES[self.source].driver_forecasts
        return None if forecasts is None else forecasts(day)

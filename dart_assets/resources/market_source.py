"""Where market data comes from: the built-in generator, a folder of ERCOT reports, or one tidy table."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from dart_assets.market import schemas, synthetic
from dart_assets.market.timeutil import day_hours
from dart_assets.settings import DATA_SOURCES


class MarketDataSource(dg.ConfigurableResource):
    """Reads DAM, RTM, system conditions and driver forecasts for a range of delivery days, validated against the
    tidy schemas."""

    source: str = "synthetic"
    path: str | None = None
    settlement_points: list[str]

    def _check(self) -> None:
        if self.source not in DATA_SOURCES:
            raise ValueError(f"market source {self.source!r} is not valid; use one of: {', '.join(DATA_SOURCES)}")
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"market source {self.source!r} needs a path (DART_DATA_PATH)")

    @property
    def label(self) -> str:
        return self.source if self.source == "synthetic" else f"{self.source}:{self.path}"

    def read(self, start: dt.date, end: dt.date) -> dict[str, pd.DataFrame]:
        """The four market tables for delivery days start..end inclusive. Sources without drivers give a
        system_conditions table of the hours alone, so every partition exists; sources without forecast postings
        an empty driver_forecasts table (the features then use lagged actuals)."""
        self._check()
        points = list(self.settlement_points)
        if self.source == "synthetic":
            tables: dict[str, pd.DataFrame | None] = synthetic.generate(start, end, points)
        elif self.source == "ercot":
            from dart_assets.market import ercot

            tables = {
                "dam_prices": ercot.read_dam(self.path, start, end, points),
                "rtm_prices": ercot.read_rtm(self.path, start, end, points),
                "system_conditions": ercot.read_system(self.path, start, end),
                "driver_forecasts": ercot.read_forecasts(self.path, start, end),
            }
        else:
            from dart_assets.market import table

            tables = table.read_table(self.path, start, end, points)
        if tables.get("system_conditions") is None:
            days = pd.date_range(start, end, freq="D")
            tables["system_conditions"] = pd.concat([day_hours(d) for d in days], ignore_index=True)
        if tables.get("driver_forecasts") is None:
            tables["driver_forecasts"] = schemas.empty("driver_forecasts")
        return {kind: schemas.validate(kind, frame, self.label) for kind, frame in tables.items()}

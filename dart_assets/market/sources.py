"""Where market data comes from, by name: each source is a function giving the tables for delivery days
start..end and the settlement points. Adding a source is its reader plus one line in SOURCES (and its name in
SourceName, which types the setting and the resource's launchpad dropdown)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

SourceName = Literal["synthetic", "ercot", "table"]
Tables = dict[str, "pd.DataFrame | None"]
"""Market tables by kind (schemas.MARKET_TABLES); None for a kind the source does not have."""


@dataclass(frozen=True)
class Source:
    read: Callable[[str | None, dt.date, dt.date, list[str]], Tables]
    """(path, start, end, points) -> the tables of delivery days start..end inclusive."""
    path_hint: str | None = None
    """What DART_DATA_PATH must point at; None: the source needs no path."""
    driver_forecasts: Callable[[dt.date], pd.DataFrame] | None = None
    """Day-ahead driver forecasts for one delivery day as issued before its decision time, if the source has them."""

    @property
    def needs_path(self) -> bool:
        return self.path_hint is not None


def _synthetic(path: str | None, start: dt.date, end: dt.date, points: list[str]) -> Tables:
    from dart_assets.market import synthetic

    return dict(synthetic.generate(start, end, points))


def _synthetic_forecasts(day: dt.date) -> pd.DataFrame:
    """The generator's day-ahead forecasts: the system-wide ones (it has no regional forecasts)."""
    from dart_assets.market import schemas, synthetic

    return synthetic.system_conditions(day, day)[[*schemas.KEY_COLUMNS, *schemas.SYSTEM_FORECASTS]]


def _ercot(path: str | None, start: dt.date, end: dt.date, points: list[str]) -> Tables:
    from dart_assets.market import ercot

    folder = _required(path)
    return {
        "dam_prices": ercot.read_dam(folder, start, end, points),
        "rtm_prices": ercot.read_rtm(folder, start, end, points),
        "system_conditions": ercot.read_system(folder, start, end),
    }


def _table(path: str | None, start: dt.date, end: dt.date, points: list[str]) -> Tables:
    from dart_assets.market import table

    return table.read_table(_required(path), start, end, points)


def _required(path: str | None) -> str:
    if path is None:
        raise ValueError("this market source reads files: give it a path (DART_DATA_PATH)")
    return path


SOURCES: dict[str, Source] = {
    "synthetic": Source(_synthetic, driver_forecasts=_synthetic_forecasts),
    "ercot": Source(_ercot, path_hint="a folder of ERCOT report files"),
    "table": Source(_table, path_hint="one tidy CSV or Parquet table"),
}

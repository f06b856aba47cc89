"""Where market data comes from, by name: each source is a function giving the tables for delivery days
start..end and the settlement points. Adding a source is its reader plus one line in SOURCES (and its name in
SourceName, which types the setting and the resource's launchpad dropdown)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from dart_assets.market.ercot_api import ApiCredentials

SourceName = Literal["synthetic", "ercot", "table", "ercot_api"]
Tables = dict[str, "pd.DataFrame | None"]
"""Market tables by kind (schemas.MARKET_TABLES); None for a kind the source does not have."""


@dataclass(frozen=True)
class SourceOptions:
    """What a source may need besides the days and points: its files, a cache folder, ERCOT API credentials."""

    path: str | None = None
    cache_dir: str | None = None
    credentials: ApiCredentials | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Source:
    read: Callable[[SourceOptions, dt.date, dt.date, list[str], Sequence[str]], Tables]
    """(options, start, end, points, tables wanted) -> the tables of delivery days start..end inclusive. A source
    may return more tables than wanted (the caller keeps the wanted ones) but need not fetch them."""
    path_hint: str | None = None
    """What DART_DATA_PATH must point at; None: the source needs no path."""

    @property
    def needs_path(self) -> bool:
        return self.path_hint is not None


def _synthetic(
    options: SourceOptions, start: dt.date, end: dt.date, points: list[str], wanted: Sequence[str]
) -> Tables:
    from dart_assets.market import synthetic

    return dict(synthetic.generate(start, end, points))


def _ercot(options: SourceOptions, start: dt.date, end: dt.date, points: list[str], wanted: Sequence[str]) -> Tables:
    from dart_assets.market import ercot

    folder = _required(options.path)
    readers = {
        "dam_prices": lambda: ercot.read_dam(folder, start, end, points),
        "rtm_prices": lambda: ercot.read_rtm(folder, start, end, points),
        "system_conditions": lambda: ercot.read_system(folder, start, end),
        "driver_forecasts": lambda: ercot.read_forecasts(folder, start, end),
    }
    return {kind: readers[kind]() for kind in wanted}


def _table(options: SourceOptions, start: dt.date, end: dt.date, points: list[str], wanted: Sequence[str]) -> Tables:
    from dart_assets.market import table

    return dict(table.read_table(_required(options.path), start, end, points))


def _ercot_api(
    options: SourceOptions, start: dt.date, end: dt.date, points: list[str], wanted: Sequence[str]
) -> Tables:
    from dart_assets.market.ercot_api import ErcotApiSource

    if options.cache_dir is None:
        raise ValueError("the ercot_api source caches its downloads: give it a cache folder")
    source = ErcotApiSource(options.cache_dir, options.credentials)
    return dict(source.read(start, end, points, tables=wanted))


def _required(path: str | None) -> str:
    if path is None:
        raise ValueError("this market source reads files: give it a path (DART_DATA_PATH)")
    return path


SOURCES: dict[str, Source] = {
    "synthetic": Source(_synthetic),
    "ercot": Source(_ercot, path_hint="a folder of ERCOT report files"),
    "table": Source(_table, path_hint="one tidy CSV or Parquet table"),
    "ercot_api": Source(_ercot_api),
}

"""Environment-driven settings, read once when the definitions load, validated with clear errors.

Every knob has a default that runs a fresh clone on the built-in data with no account and no network.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

DATA_SOURCES = ("synthetic", "ercot", "table")
EXECUTION_MODES = ("local", "azureml")
DEFAULT_POINTS = ("HB_HOUSTON", "HB_NORTH", "HB_WEST")
DEFAULT_START_DATE = "2025-01-01"
DEFAULT_STORAGE = ".dart/storage"


class SettingsError(ValueError):
    """A configuration value that cannot work; the message names the variable and the valid values."""


def _choice(name: str, default: str, valid: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in valid:
        raise SettingsError(f"{name}={value!r} is not valid; use one of: {', '.join(valid)}")
    return value


def _date(name: str, default: str) -> str:
    value = os.environ.get(name, default).strip()
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. {default}") from None
    if not dt.date(2010, 1, 1) <= day <= dt.date.today():
        raise SettingsError(f"{name}={value} is outside 2010-01-01..today")
    return day.isoformat()


def _points(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return DEFAULT_POINTS
    points = tuple(p.strip().upper() for p in raw.split(",") if p.strip())
    if not points:
        raise SettingsError(f"{name} is empty; give a comma list of settlement points, e.g. HB_HOUSTON,HB_NORTH")
    if len(set(points)) != len(points):
        raise SettingsError(f"{name}={raw!r} lists a settlement point twice")
    return points


def _number(name: str, default: float, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number, e.g. {default}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is outside {low:g}..{high:g}")
    return value


@dataclass(frozen=True)
class Settings:
    data_source: str
    data_path: str | None
    settlement_points: tuple[str, ...]
    start_date: str
    storage: str
    execution: str
    gate_max_test_rmse: float
    gate_min_skill: float

    @property
    def storage_is_local(self) -> bool:
        return "://" not in self.storage

    @property
    def default_mlflow_uri(self) -> str:
        """A SQLite tracking store beside the asset files, so the model registry works with no server."""
        if self.storage_is_local:
            return f"sqlite:///{Path(self.storage).resolve() / 'mlflow.db'}"
        return f"sqlite:///{Path(DEFAULT_STORAGE).resolve() / 'mlflow.db'}"


def load_settings() -> Settings:
    """Read DART_* environment variables (see the README's configuration table)."""
    source = _choice("DART_DATA_SOURCE", "synthetic", DATA_SOURCES)
    path = os.environ.get("DART_DATA_PATH") or None
    if source != "synthetic" and not path:
        raise SettingsError(
            f"DART_DATA_SOURCE={source} needs DART_DATA_PATH (a folder of ERCOT reports or a table file)"
        )
    if path and source != "synthetic" and not Path(path).exists():
        raise SettingsError(f"DART_DATA_PATH={path!r} does not exist")
    storage = os.environ.get("DART_STORAGE", DEFAULT_STORAGE).strip()
    if not storage:
        raise SettingsError("DART_STORAGE is empty; give a folder or an abfss:// URI")
    if "://" in storage and not storage.startswith(("abfss://", "file://")):
        raise SettingsError(f"DART_STORAGE={storage!r}: only local folders, file:// and abfss:// URIs are supported")
    return Settings(
        data_source=source,
        data_path=path,
        settlement_points=_points("DART_SETTLEMENT_POINTS"),
        start_date=_date("DART_START_DATE", DEFAULT_START_DATE),
        storage=storage,
        execution=_choice("DART_EXECUTION", "local", EXECUTION_MODES),
        gate_max_test_rmse=_number("DART_GATE_MAX_TEST_RMSE", 60.0, 0.0, 10_000.0),
        gate_min_skill=_number("DART_GATE_MIN_SKILL", 0.02, -1.0, 1.0),
    )

"""Every knob of dart-assets, read from the environment once, typed, and validated with errors that say what to fix.

`load_settings()` is the only code in dart_assets that reads the environment (the training entry point, which runs
inside a job, reads that job's own environment). The definitions are built from its result,
`build_defs(load_settings())`; tests build them from an explicit `Settings(...)`. Every knob has a default that runs
a fresh clone on the built-in data with no account and no network. See the README's configuration table.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar, cast, get_args

from dart_assets.market.sources import SOURCES, SourceName
from dart_assets.market.timeutil import DAM_CLOSE, DEFAULT_DECISION_TIME

ExecutionMode = Literal["local", "azureml"]
EXECUTION_MODES: tuple[str, ...] = get_args(ExecutionMode)
DEFAULT_POINTS = ("HB_HOUSTON", "HB_NORTH", "HB_WEST")
DEFAULT_START_DATE = "2025-01-01"
DEFAULT_STORAGE = ".dart/storage"
DEFAULT_DAGSTER_HOME = ".dart/dagster_home"
DEFAULT_BACKTEST_MIN_TRAINING_MONTHS = 3
# The desk's morning runs are scheduled up to two hours before the decision time, on the same day (D-1).
EARLIEST_DECISION_TIME = dt.time(2, 0)
MLFLOW_TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
# The ERCOT public API sign-in of the ercot_api source (only needed for days older than what MIS still lists).
ERCOT_API_ENV = ("ERCOT_API_USERNAME", "ERCOT_API_PASSWORD", "ERCOT_PUBLIC_API_SUBSCRIPTION_KEY")
ABFSS = re.compile(r"^abfss://(?P<container>[^@/]+)@(?P<account>[^./]+)\.dfs\.core\.windows\.net(/|$)")
# AzureMLSettings field -> environment variable (names shared with infra/README.md and the Terraform outputs).
AZUREML_ENV_VARS = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "resource_group": "AZURE_RESOURCE_GROUP",
    "workspace": "AZUREML_WORKSPACE",
    "cpu_cluster": "AZUREML_CPU_CLUSTER",
    "gpu_cluster": "AZUREML_GPU_CLUSTER",
    "cpu_environment": "AZUREML_ENVIRONMENT",
    "gpu_environment": "AZUREML_GPU_ENVIRONMENT",
    "pipes_account_url": "DART_PIPES_BLOB_ACCOUNT_URL",
    "pipes_container": "DART_PIPES_CONTAINER",
    "identity_client_id": "AZUREML_COMPUTE_CLIENT_ID",
}
AZUREML_REQUIRED = ("subscription_id", "resource_group", "workspace")


class SettingsError(ValueError):
    """A configuration value that cannot work; the message names the variable and the valid values."""


@dataclass(frozen=True)
class EnvSecret:
    """A value left in the environment for Dagster to read when a run starts (`dg.EnvVar`): it may carry
    credentials, so the settings never hold it and nothing prints it."""

    name: str


@dataclass(frozen=True)
class TransformerSettings:
    data_path: str | None = None
    """Sensor CSV of hourly peak load; None: the built-in generator."""
    limit_kw: float = 85.0
    horizon_years: int = 5
    rmse_threshold_kw: float = 3.0


@dataclass(frozen=True)
class AzureMLSettings:
    """The workspace, clusters and environments the training jobs use, and where Pipes exchanges its blobs."""

    subscription_id: str
    resource_group: str
    workspace: str
    pipes_account_url: str
    pipes_container: str
    cpu_cluster: str = "cpu-cluster"
    gpu_cluster: str = "gpu-cluster"
    cpu_environment: str = "azureml:dart-assets-cpu@latest"
    gpu_environment: str = "azureml:dart-assets-gpu@latest"
    identity_client_id: str | None = None


@dataclass(frozen=True)
class Settings:
    data_source: SourceName = "synthetic"
    data_path: str | None = None
    settlement_points: tuple[str, ...] = DEFAULT_POINTS
    start_date: str = DEFAULT_START_DATE
    """First daily partition, YYYY-MM-DD."""
    storage: str = DEFAULT_STORAGE
    """Asset files: a folder, file:// or abfss:// URI."""
    execution: ExecutionMode = "local"
    decision_time: dt.time = DEFAULT_DECISION_TIME
    """Central time on D-1 by which the forecast for delivery day D must exist (before the DAM closes at 10:00)."""
    gate_max_test_rmse: float = 60.0
    gate_min_skill: float = 0.02
    gate_min_point_skill: float = -0.02
    """Every settlement point's own test MAE skill must reach this floor (a pooled skill can hide a losing point)."""
    backtest_min_training_months: int = DEFAULT_BACKTEST_MIN_TRAINING_MONTHS
    """Months of data after start_date before the first dart_backtest month."""
    mlflow_tracking_uri: str | EnvSecret | None = None
    """None: a SQLite store beside the asset files (`default_mlflow_uri`)."""
    mlflow_ui_url: str | None = None
    transformer: TransformerSettings = field(default_factory=TransformerSettings)
    azureml: AzureMLSettings | None = None
    """Required, and only read, when execution is azureml."""
    dagster_home: str = DEFAULT_DAGSTER_HOME
    """The Dagster instance folder the CLI runs on (Dagster's own commands read DAGSTER_HOME themselves)."""
    ercot_api_credentials: tuple[EnvSecret, ...] = ()
    """The ERCOT API sign-in variables that are set (ercot_api source only); Dagster reads them when a run starts."""

    @property
    def storage_is_local(self) -> bool:
        return "://" not in self.storage

    @property
    def default_mlflow_uri(self) -> str:
        """A SQLite tracking store beside the asset files, so the model registry works with no server."""
        if self.storage_is_local:
            return f"sqlite:///{Path(self.storage).resolve() / 'mlflow.db'}"
        return f"sqlite:///{Path(DEFAULT_STORAGE).resolve() / 'mlflow.db'}"


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """The settings from DART_*, TRANSFORMER_*, MLFLOW_*, DAGSTER_HOME and, in Azure ML mode, the AZURE*
    variables; SettingsError on the first value that cannot work."""
    env = _Environment(environ)
    source = env.choice("DART_DATA_SOURCE", "synthetic", tuple(SOURCES))
    path = env.get("DART_DATA_PATH")
    if SOURCES[source].needs_path and not path:
        raise SettingsError(f"DART_DATA_SOURCE={source} needs DART_DATA_PATH ({SOURCES[source].path_hint})")
    if path and SOURCES[source].needs_path and not Path(path).exists():
        raise SettingsError(f"DART_DATA_PATH={path!r} does not exist")
    storage = _storage(environ.get("DART_STORAGE", DEFAULT_STORAGE))
    execution = env.choice("DART_EXECUTION", "local", EXECUTION_MODES)
    return Settings(
        data_source=cast(SourceName, source),
        data_path=path,
        settlement_points=env.points("DART_SETTLEMENT_POINTS"),
        start_date=env.date("DART_START_DATE", DEFAULT_START_DATE),
        storage=storage,
        execution=cast(ExecutionMode, execution),
        decision_time=env.decision_time("DART_DECISION_TIME"),
        gate_max_test_rmse=env.number("DART_GATE_MAX_TEST_RMSE", 60.0, 0.0, 10_000.0),
        gate_min_skill=env.number("DART_GATE_MIN_SKILL", 0.02, -1.0, 1.0),
        gate_min_point_skill=env.number("DART_GATE_MIN_POINT_SKILL", -0.02, -1.0, 1.0),
        backtest_min_training_months=env.positive(
            "DART_BACKTEST_MIN_TRAINING_MONTHS", DEFAULT_BACKTEST_MIN_TRAINING_MONTHS, int, "months"
        ),
        mlflow_tracking_uri=EnvSecret(MLFLOW_TRACKING_URI_ENV) if env.get(MLFLOW_TRACKING_URI_ENV) else None,
        mlflow_ui_url=env.get("MLFLOW_UI_URL"),
        transformer=_transformer(env),
        azureml=_azureml(environ, storage) if execution == "azureml" else None,
        dagster_home=env.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME,
        ercot_api_credentials=tuple(EnvSecret(name) for name in ERCOT_API_ENV if env.get(name))
        if source == "ercot_api"
        else (),
    )


N = TypeVar("N", int, float)


class _Environment:
    """Typed readers over one environment mapping; each error names the variable and what it accepts."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def get(self, name: str) -> str | None:
        """The stripped value, None when unset or blank."""
        return (self.environ.get(name) or "").strip() or None

    def choice(self, name: str, default: str, valid: tuple[str, ...]) -> str:
        value = self.environ.get(name, default).strip().lower()
        if value not in valid:
            raise SettingsError(f"{name}={value!r} is not valid; use one of: {', '.join(valid)}")
        return value

    def date(self, name: str, default: str) -> str:
        value = self.environ.get(name, default).strip()
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise SettingsError(f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. {default}") from None
        if not dt.date(2010, 1, 1) <= day <= dt.date.today():
            raise SettingsError(f"{name}={value} is outside 2010-01-01..today")
        return day.isoformat()

    def points(self, name: str) -> tuple[str, ...]:
        raw = self.environ.get(name)
        if raw is None:
            return DEFAULT_POINTS
        points = tuple(p.strip().upper() for p in raw.split(",") if p.strip())
        if not points:
            raise SettingsError(f"{name} is empty; give a comma list of settlement points, e.g. HB_HOUSTON,HB_NORTH")
        if len(set(points)) != len(points):
            raise SettingsError(f"{name}={raw!r} lists a settlement point twice")
        return points

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number, e.g. {default}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={raw!r} is outside {low:g}..{high:g}")
        return value

    def positive(self, name: str, default: N, cast: Callable[[str], N], unit: str = "") -> N:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = cast(raw)
        except ValueError:
            kind = f"a whole number of {unit}" if cast is int else "a number"
            raise SettingsError(f"{name}={raw!r} is not {kind}, e.g. {default}") from None
        if not value > 0:
            raise SettingsError(f"{name}={raw!r} must be greater than 0")
        return value

    def decision_time(self, name: str) -> dt.time:
        raw = self.get(name)
        if raw is None:
            return DEFAULT_DECISION_TIME
        valid = (
            f"use HH:MM in Central time on the day before delivery, from {EARLIEST_DECISION_TIME:%H:%M} to 09:59 "
            f"(the day-ahead market closes at {DAM_CLOSE:%H:%M}), e.g. {DEFAULT_DECISION_TIME:%H:%M}"
        )
        if not re.fullmatch(r"\d{1,2}:\d{2}", raw):
            raise SettingsError(f"{name}={raw!r} is not a time; {valid}")
        hour, minute = (int(part) for part in raw.split(":"))
        if hour > 23 or minute > 59:
            raise SettingsError(f"{name}={raw!r} is not a time; {valid}")
        value = dt.time(hour, minute)
        if not EARLIEST_DECISION_TIME <= value < DAM_CLOSE:
            raise SettingsError(f"{name}={raw!r} is outside {EARLIEST_DECISION_TIME:%H:%M}..09:59; {valid}")
        return value


def _storage(raw: str) -> str:
    storage = raw.strip()
    if not storage:
        raise SettingsError("DART_STORAGE is empty; give a folder or an abfss:// URI")
    if "://" in storage and not storage.startswith(("abfss://", "file://")):
        raise SettingsError(f"DART_STORAGE={storage!r}: only local folders, file:// and abfss:// URIs are supported")
    return storage


def _transformer(env: _Environment) -> TransformerSettings:
    data_path = env.get("TRANSFORMER_DATA_PATH")
    if data_path is not None and not os.path.isfile(data_path):
        raise SettingsError(f"TRANSFORMER_DATA_PATH={data_path!r} is not a file; unset it to use the built-in data")
    defaults = TransformerSettings()
    return TransformerSettings(
        data_path=data_path,
        limit_kw=env.positive("TRANSFORMER_LIMIT_KW", defaults.limit_kw, float),
        horizon_years=env.positive("TRANSFORMER_HORIZON_YEARS", defaults.horizon_years, int, "years"),
        rmse_threshold_kw=env.positive("TRANSFORMER_RMSE_THRESHOLD_KW", defaults.rmse_threshold_kw, float),
    )


def _azureml(environ: Mapping[str, str], storage: str) -> AzureMLSettings:
    """Training jobs read and write DART_STORAGE from the cluster, so it must be abfss://; Pipes defaults to the
    Blob endpoint of the same account and container."""
    values = {field: environ[var].strip() for field, var in AZUREML_ENV_VARS.items() if environ.get(var, "").strip()}
    missing = [AZUREML_ENV_VARS[f] for f in AZUREML_REQUIRED if f not in values]
    if missing:
        raise SettingsError(f"DART_EXECUTION=azureml needs {', '.join(missing)} (see infra/README.md)")
    match = ABFSS.match(storage)
    if match is None:
        raise SettingsError(
            f"DART_EXECUTION=azureml needs DART_STORAGE=abfss://<container>@<account>.dfs.core.windows.net/... "
            f"(got {storage!r}): the training jobs read the features and write the models there"
        )
    values.setdefault("pipes_account_url", f"https://{match['account']}.blob.core.windows.net")
    values.setdefault("pipes_container", match["container"])
    return AzureMLSettings(**values)

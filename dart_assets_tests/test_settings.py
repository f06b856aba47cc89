"""DART_* environment settings: defaults that run a fresh clone, and errors that say what to fix."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dart_assets.settings import SettingsError, load_settings


def test_defaults_run_on_the_built_in_generator(dart_env):
    settings = load_settings()
    assert settings.data_source == "synthetic"
    assert settings.data_path is None
    assert settings.settlement_points == ("HB_HOUSTON", "HB_NORTH", "HB_WEST")
    assert settings.start_date == "2025-01-01"
    assert settings.storage == ".dart/storage" and settings.storage_is_local
    assert settings.execution == "local"
    assert (settings.gate_max_test_rmse, settings.gate_min_skill) == (60.0, 0.02)
    assert settings.default_mlflow_uri == f"sqlite:///{Path('.dart/storage').resolve() / 'mlflow.db'}"


def test_values_are_normalised(dart_env, tmp_path):
    dart_env.setenv("DART_DATA_SOURCE", " Table ")
    dart_env.setenv("DART_DATA_PATH", str(tmp_path))
    dart_env.setenv("DART_SETTLEMENT_POINTS", " hb_west , LZ_Houston,")
    dart_env.setenv("DART_START_DATE", "2024-02-29")
    dart_env.setenv("DART_GATE_MIN_SKILL", "-0.5")
    dart_env.setenv("DART_STORAGE", "abfss://dart@account.dfs.core.windows.net/assets")
    settings = load_settings()
    assert settings.data_source == "table" and settings.data_path == str(tmp_path)
    assert settings.settlement_points == ("HB_WEST", "LZ_HOUSTON")
    assert settings.start_date == "2024-02-29"
    assert settings.gate_min_skill == -0.5
    assert not settings.storage_is_local
    assert settings.default_mlflow_uri == f"sqlite:///{Path('.dart/storage').resolve() / 'mlflow.db'}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DART_DATA_SOURCE": "caiso"}, r"DART_DATA_SOURCE='caiso' is not valid; use one of: synthetic, ercot, table"),
        ({"DART_EXECUTION": "k8s"}, r"DART_EXECUTION='k8s' is not valid; use one of: local, azureml"),
        ({"DART_START_DATE": "01/02/2025"}, r"DART_START_DATE='01/02/2025' is not a date; use YYYY-MM-DD"),
        ({"DART_START_DATE": "2025-02-30"}, r"DART_START_DATE='2025-02-30' is not a date"),
        ({"DART_START_DATE": "2009-12-31"}, r"DART_START_DATE=2009-12-31 is outside 2010-01-01\.\.today"),
        ({"DART_START_DATE": (dt.date.today() + dt.timedelta(days=1)).isoformat()}, r"DART_START_DATE=.* is outside"),
        ({"DART_SETTLEMENT_POINTS": ""}, r"DART_SETTLEMENT_POINTS is empty; give a comma list of settlement points"),
        ({"DART_SETTLEMENT_POINTS": " , "}, r"DART_SETTLEMENT_POINTS is empty"),
        (
            {"DART_SETTLEMENT_POINTS": "HB_NORTH,hb_north"},
            r"DART_SETTLEMENT_POINTS='HB_NORTH,hb_north' lists a settlement point twice",
        ),
        ({"DART_DATA_SOURCE": "ercot"}, r"DART_DATA_SOURCE=ercot needs DART_DATA_PATH"),
        ({"DART_DATA_SOURCE": "table"}, r"DART_DATA_SOURCE=table needs DART_DATA_PATH"),
        (
            {"DART_DATA_SOURCE": "ercot", "DART_DATA_PATH": "/nonexistent/ercot"},
            r"DART_DATA_PATH='/nonexistent/ercot' does not exist",
        ),
        ({"DART_GATE_MIN_SKILL": "two percent"}, r"DART_GATE_MIN_SKILL='two percent' is not a number"),
        ({"DART_GATE_MIN_SKILL": "1.5"}, r"DART_GATE_MIN_SKILL='1.5' is outside -1\.\.1"),
        ({"DART_GATE_MAX_TEST_RMSE": "-1"}, r"DART_GATE_MAX_TEST_RMSE='-1' is outside 0\.\.10000"),
        ({"DART_STORAGE": "  "}, r"DART_STORAGE is empty"),
        (
            {"DART_STORAGE": "s3://bucket/dart"},
            r"DART_STORAGE='s3://bucket/dart': only local folders, file:// and abfss://",
        ),
    ],
)
def test_invalid_values_name_the_variable_and_the_valid_values(dart_env, env, message):
    for name, value in env.items():
        dart_env.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()

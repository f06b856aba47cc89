"""The settings: defaults that run a fresh clone, values read from an explicit environment, and errors that say what
to fix. `load_settings` takes the environment as a mapping, so no test patches os.environ."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import get_args

import pytest

from dart_assets.market.sources import SOURCES, SourceName
from dart_assets.settings import (
    EnvSecret,
    Settings,
    SettingsError,
    TransformerSettings,
    load_settings,
)

WORKSPACE_ENV = {
    "DART_EXECUTION": "azureml",
    "DART_STORAGE": "abfss://dart-assets@dartlake.dfs.core.windows.net/",
    "AZURE_SUBSCRIPTION_ID": "0000-sub",
    "AZURE_RESOURCE_GROUP": "rg-dart-assets",
    "AZUREML_WORKSPACE": "mlw-dart",
}


def test_defaults_run_on_the_built_in_generator():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.data_source == "synthetic"
    assert settings.data_path is None
    assert settings.settlement_points == ("HB_HOUSTON", "HB_NORTH", "HB_WEST")
    assert settings.start_date == "2025-01-01"
    assert settings.storage == ".dart/storage" and settings.storage_is_local
    assert settings.execution == "local" and settings.azureml is None
    assert settings.decision_time == dt.time(9, 0)
    assert (settings.gate_max_test_rmse, settings.gate_min_skill, settings.gate_min_point_skill) == (60.0, 0.02, -0.02)
    assert settings.backtest_min_training_months == 3
    assert settings.mlflow_tracking_uri is None and settings.mlflow_ui_url is None
    assert settings.default_mlflow_uri == f"sqlite:///{Path('.dart/storage').resolve() / 'mlflow.db'}"
    assert settings.transformer == TransformerSettings(
        data_path=None, limit_kw=85.0, horizon_years=5, rmse_threshold_kw=3.0
    )
    assert settings.dagster_home == ".dart/dagster_home"


def test_values_are_normalised(tmp_path):
    settings = load_settings(
        {
            "DART_DATA_SOURCE": " Table ",
            "DART_DATA_PATH": str(tmp_path),
            "DART_SETTLEMENT_POINTS": " hb_west , LZ_Houston,",
            "DART_START_DATE": "2024-02-29",
            "DART_GATE_MIN_SKILL": "-0.5",
            "DART_GATE_MIN_POINT_SKILL": " -0.1 ",
            "DART_STORAGE": "abfss://dart@account.dfs.core.windows.net/assets",
            "DART_DECISION_TIME": " 8:30 ",
            "DART_BACKTEST_MIN_TRAINING_MONTHS": "6",
            "MLFLOW_UI_URL": "http://127.0.0.1:5000",
            "DAGSTER_HOME": str(tmp_path / "home"),
        }
    )
    assert settings.data_source == "table" and settings.data_path == str(tmp_path)
    assert settings.settlement_points == ("HB_WEST", "LZ_HOUSTON")
    assert settings.start_date == "2024-02-29"
    assert settings.gate_min_skill == -0.5 and settings.gate_min_point_skill == -0.1
    assert settings.decision_time == dt.time(8, 30)
    assert settings.backtest_min_training_months == 6
    assert not settings.storage_is_local
    assert settings.default_mlflow_uri == f"sqlite:///{Path('.dart/storage').resolve() / 'mlflow.db'}"
    assert settings.mlflow_ui_url == "http://127.0.0.1:5000"
    assert settings.dagster_home == str(tmp_path / "home")


def test_the_tracking_uri_stays_in_the_environment():
    """It may carry credentials: the settings keep only where to find it, and Dagster reads it at run time."""
    settings = load_settings({"MLFLOW_TRACKING_URI": "https://user:secret@mlflow.example/"})
    assert settings.mlflow_tracking_uri == EnvSecret("MLFLOW_TRACKING_URI")
    assert "secret" not in repr(settings)


def test_every_registered_source_is_a_valid_setting():
    assert set(get_args(SourceName)) == set(SOURCES)


def test_transformer_values():
    csv = Path(__file__)  # any existing file
    settings = load_settings(
        {
            "TRANSFORMER_DATA_PATH": str(csv),
            "TRANSFORMER_LIMIT_KW": "90.5",
            "TRANSFORMER_HORIZON_YEARS": "3",
            "TRANSFORMER_RMSE_THRESHOLD_KW": "2",
        }
    )
    assert settings.transformer == TransformerSettings(
        data_path=str(csv), limit_kw=90.5, horizon_years=3, rmse_threshold_kw=2.0
    )


def test_azureml_settings_default_to_the_workspace_and_the_storage_account():
    azure = load_settings(WORKSPACE_ENV).azureml
    assert azure is not None
    assert (azure.subscription_id, azure.resource_group, azure.workspace) == ("0000-sub", "rg-dart-assets", "mlw-dart")
    assert (azure.cpu_cluster, azure.gpu_cluster) == ("cpu-cluster", "gpu-cluster")
    assert (azure.cpu_environment, azure.gpu_environment) == (
        "azureml:dart-assets-cpu@latest",
        "azureml:dart-assets-gpu@latest",
    )
    # Pipes blobs go to the Blob endpoint of DART_STORAGE's account and container.
    assert (azure.pipes_account_url, azure.pipes_container) == ("https://dartlake.blob.core.windows.net", "dart-assets")
    assert azure.identity_client_id is None


def test_azureml_settings_from_every_variable():
    azure = load_settings(
        {
            **WORKSPACE_ENV,
            "AZUREML_CPU_CLUSTER": "cpu-big",
            "AZUREML_GPU_CLUSTER": "gpu-a100",
            "AZUREML_ENVIRONMENT": "dart-assets-cpu@latest",
            "AZUREML_GPU_ENVIRONMENT": "dart-assets-gpu:7",
            "DART_PIPES_BLOB_ACCOUNT_URL": "https://other.blob.core.windows.net",
            "DART_PIPES_CONTAINER": "dagster-pipes",
            "AZUREML_COMPUTE_CLIENT_ID": "mi-client-id",
        }
    ).azureml
    assert azure is not None
    assert (azure.cpu_cluster, azure.gpu_cluster) == ("cpu-big", "gpu-a100")
    assert (azure.cpu_environment, azure.gpu_environment) == ("dart-assets-cpu@latest", "dart-assets-gpu:7")
    assert (azure.pipes_account_url, azure.pipes_container) == ("https://other.blob.core.windows.net", "dagster-pipes")
    assert azure.identity_client_id == "mi-client-id"


def test_azure_variables_are_not_read_in_local_mode():
    assert load_settings({**WORKSPACE_ENV, "DART_EXECUTION": "local"}).azureml is None


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
        ({"DART_GATE_MIN_POINT_SKILL": "-2"}, r"DART_GATE_MIN_POINT_SKILL='-2' is outside -1\.\.1"),
        ({"DART_GATE_MIN_POINT_SKILL": "low"}, r"DART_GATE_MIN_POINT_SKILL='low' is not a number"),
        ({"DART_GATE_MAX_TEST_RMSE": "-1"}, r"DART_GATE_MAX_TEST_RMSE='-1' is outside 0\.\.10000"),
        ({"DART_STORAGE": "  "}, r"DART_STORAGE is empty"),
        (
            {"DART_STORAGE": "s3://bucket/dart"},
            r"DART_STORAGE='s3://bucket/dart': only local folders, file:// and abfss://",
        ),
        ({"DART_DECISION_TIME": "9am"}, r"DART_DECISION_TIME='9am' is not a time; use HH:MM in Central time"),
        ({"DART_DECISION_TIME": "08:75"}, r"DART_DECISION_TIME='08:75' is not a time"),
        (
            {"DART_DECISION_TIME": "10:00"},
            r"DART_DECISION_TIME='10:00' is outside 02:00\.\.09:59; .*the day-ahead market closes at 10:00",
        ),
        ({"DART_DECISION_TIME": "01:30"}, r"DART_DECISION_TIME='01:30' is outside 02:00\.\.09:59"),
        ({"TRANSFORMER_LIMIT_KW": "lots"}, r"TRANSFORMER_LIMIT_KW='lots' is not a number"),
        ({"TRANSFORMER_LIMIT_KW": "-5"}, r"TRANSFORMER_LIMIT_KW='-5' must be greater than 0"),
        ({"TRANSFORMER_HORIZON_YEARS": "2.5"}, r"TRANSFORMER_HORIZON_YEARS='2.5' is not a whole number of years"),
        ({"TRANSFORMER_HORIZON_YEARS": "0"}, r"must be greater than 0"),
        (
            {"DART_BACKTEST_MIN_TRAINING_MONTHS": "half a year"},
            r"DART_BACKTEST_MIN_TRAINING_MONTHS='half a year' is not a whole number of months, e.g. 3",
        ),
        ({"DART_BACKTEST_MIN_TRAINING_MONTHS": "0"}, r"DART_BACKTEST_MIN_TRAINING_MONTHS='0' must be greater than 0"),
        ({"TRANSFORMER_RMSE_THRESHOLD_KW": "nan"}, r"must be greater than 0"),
        ({"TRANSFORMER_DATA_PATH": "/no/such/file.csv"}, r"TRANSFORMER_DATA_PATH='/no/such/file.csv' is not a file"),
        (
            {**WORKSPACE_ENV, "AZURE_RESOURCE_GROUP": "", "AZUREML_WORKSPACE": " "},
            r"DART_EXECUTION=azureml needs AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE \(see infra/README\.md\)",
        ),
        (
            {**WORKSPACE_ENV, "DART_STORAGE": "file:///data/dart"},
            r"DART_EXECUTION=azureml needs DART_STORAGE=abfss://<container>@<account>\.dfs\.core\.windows\.net/",
        ),
    ],
)
def test_invalid_values_name_the_variable_and_the_valid_values(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env)

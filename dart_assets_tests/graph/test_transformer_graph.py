import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from mlflow import MlflowClient

from dart_assets.graph.transformer import (
    MODEL_NAME,
    TransformerSettings,
    transformer_assets,
    transformer_checks,
    transformer_resources,
)
from dart_assets.ml.registry import champion
from dart_assets.resources.io_manager import ParquetIOManager
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.settings import SettingsError
from dart_assets.transformer.history import LoadGenerator
from dart_assets.transformer.model import predict

ASSET_KEYS = [
    "transformer_load_history",
    "transformer_load_model",
    "promoted_transformer_model",
    "transformer_overload_forecast",
]


@pytest.fixture(scope="module")
def migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty, already-migrated MLflow SQLite store: copying it saves each test MLflow's schema migrations."""
    db = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


def run_graph(tmp_path: Path, template: Path, threshold: float) -> tuple[dg.ExecuteInProcessResult, MlflowResource]:
    shutil.copy(template, tmp_path / "mlflow.db")
    mlflow = MlflowResource(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    resources = {
        "io_manager": ParquetIOManager(base_path=str(tmp_path / "storage")),
        "mlflow": mlflow,
        "transformer_settings": TransformerSettings(rmse_threshold_kw=threshold),
    }
    result = dg.materialize(
        [*transformer_assets, *transformer_checks],
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    return result, mlflow


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(key)[0].metadata.items()}


def test_asset_keys_group_and_exports_are_the_public_interface():
    defs = dg.Definitions(
        assets=transformer_assets,
        asset_checks=transformer_checks,
        resources={
            **transformer_resources,
            "io_manager": ParquetIOManager(base_path="unused"),
            "mlflow": MlflowResource(tracking_uri="sqlite:///unused.db"),
        },
    )
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == sorted(ASSET_KEYS)
    assert {graph.get(dg.AssetKey(k)).group_name for k in ASSET_KEYS} == {"transformer"}
    assert [c.name for c in graph.asset_check_keys] == ["rmse_gate"]


def test_gate_passes_registers_champion_and_forecasts(tmp_path, migrated_mlflow_db):
    result, mlflow = run_graph(tmp_path, migrated_mlflow_db, threshold=3.0)
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "rmse_gate" and check.passed

    version = champion(mlflow.client(), MODEL_NAME)
    model_meta = metadata(result, "transformer_load_model")
    assert version is not None and version.run_id == model_meta["mlflow_run_id"]
    assert float(version.tags["val_rmse"]) == pytest.approx(model_meta["val_rmse"], abs=1e-4)
    run = mlflow.client().get_run(version.run_id)
    assert run.data.metrics["test_rmse"] == pytest.approx(model_meta["test_rmse"])

    # The registered source holds the JSON parameters; reloading them reproduces the stored forecast exactly.
    registered = json.loads((Path(version.source.removeprefix("file://")) / "transformer_model.json").read_text())
    stored = pd.read_parquet(tmp_path / "storage" / "transformer_overload_forecast.parquet")
    assert len(stored) == 43824
    assert predict(registered, stored["timestamp"])["kw"].tolist() == stored["kw"].tolist()

    forecast_meta = metadata(result, "transformer_overload_forecast")
    assert forecast_meta["first_overload"].startswith("2028-06")
    assert forecast_meta["overload_hours"] == int(stored["overload"].sum())
    assert forecast_meta["model_version"] == str(version.version)
    assert forecast_meta["chart"].startswith("![transformer overload forecast](data:image/png;base64,iVBORw0KGgo")


def test_gate_fails_registers_nothing_and_blocks_forecast(tmp_path, migrated_mlflow_db):
    result, mlflow = run_graph(tmp_path, migrated_mlflow_db, threshold=0.001)
    assert not result.success
    [check] = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "RMSE gate failed" in check.description and "0.001 kW threshold" in check.description
    assert check.metadata["threshold_kw"].value == 0.001

    promoted = metadata(result, "promoted_transformer_model")
    assert promoted["promoted"] is False and promoted["registered_version"] == "none"
    assert champion(mlflow.client(), MODEL_NAME) is None
    assert mlflow.client().search_registered_models() == []
    assert not result.asset_materializations_for_node("transformer_overload_forecast")
    assert not (tmp_path / "storage" / "transformer_overload_forecast.parquet").exists()


def test_history_reads_the_sensor_csv_when_configured(tmp_path):
    frame = LoadGenerator(start="2025-06-01 00:00", end="2025-06-02 23:00").history()
    path = tmp_path / "load.csv"
    frame.assign(timestamp=frame["timestamp"].dt.strftime("%Y-%m-%d %H:%M")).to_csv(path, index=False)
    history = next(a for a in transformer_assets if a.key == dg.AssetKey("transformer_load_history"))
    result = dg.materialize(
        [history],
        resources={
            "io_manager": ParquetIOManager(base_path=str(tmp_path / "storage")),
            "transformer_settings": TransformerSettings(data_path=str(path)),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.output_for_node("transformer_load_history")["kw"].tolist() == pytest.approx(frame["kw"].tolist())
    assert metadata(result, "transformer_load_history")["source"] == str(path)


def test_settings_from_env_defaults_and_values(monkeypatch, tmp_path):
    for name in (
        "TRANSFORMER_DATA_PATH",
        "TRANSFORMER_LIMIT_KW",
        "TRANSFORMER_HORIZON_YEARS",
        "TRANSFORMER_RMSE_THRESHOLD_KW",
    ):
        monkeypatch.delenv(name, raising=False)
    assert TransformerSettings.from_env() == TransformerSettings(
        data_path=None, limit_kw=85.0, horizon_years=5, rmse_threshold_kw=3.0
    )
    (tmp_path / "load.csv").write_text("timestamp,kw\n")
    monkeypatch.setenv("TRANSFORMER_DATA_PATH", str(tmp_path / "load.csv"))
    monkeypatch.setenv("TRANSFORMER_LIMIT_KW", "90.5")
    monkeypatch.setenv("TRANSFORMER_HORIZON_YEARS", "3")
    monkeypatch.setenv("TRANSFORMER_RMSE_THRESHOLD_KW", "2")
    assert TransformerSettings.from_env() == TransformerSettings(
        data_path=str(tmp_path / "load.csv"), limit_kw=90.5, horizon_years=3, rmse_threshold_kw=2.0
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRANSFORMER_LIMIT_KW", "lots", "TRANSFORMER_LIMIT_KW='lots' is not a number"),
        ("TRANSFORMER_LIMIT_KW", "-5", "must be greater than 0"),
        ("TRANSFORMER_HORIZON_YEARS", "2.5", "is not a whole number of years"),
        ("TRANSFORMER_HORIZON_YEARS", "0", "must be greater than 0"),
        ("TRANSFORMER_RMSE_THRESHOLD_KW", "nan", "must be greater than 0"),
        ("TRANSFORMER_DATA_PATH", "/no/such/file.csv", "is not a file"),
    ],
)
def test_invalid_env_values_raise_clear_errors(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        TransformerSettings.from_env()

"""The transformer graph on production's definitions, built from an explicit Settings."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from mlflow import MlflowClient

from dart_assets.common.registry import champion
from dart_assets.defs import build_defs
from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.defs.transformer.assets import MODEL_NAME
from dart_assets.settings import Settings, TransformerSettings
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


def settings_for(tmp_path: Path, **transformer) -> Settings:
    return Settings(
        storage=str(tmp_path / "storage"),
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        transformer=TransformerSettings(**transformer),
    )


def materialize(settings: Settings, selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
    defs = build_defs(settings)
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        resources=defs.resources,
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def run_graph(tmp_path: Path, template: Path, threshold: float) -> tuple[dg.ExecuteInProcessResult, MlflowResource]:
    shutil.copy(template, tmp_path / "mlflow.db")
    settings = settings_for(tmp_path, rmse_threshold_kw=threshold)
    result = materialize(settings, dg.AssetSelection.groups("transformer"))
    return result, MlflowResource(tracking_uri=str(settings.mlflow_tracking_uri))


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    return {k: v.value for k, v in result.asset_materializations_for_node(key)[0].metadata.items()}


def test_asset_keys_group_and_check_are_the_public_interface():
    graph = build_defs(Settings()).resolve_asset_graph()
    in_group = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "transformer"}
    assert sorted(in_group) == sorted(ASSET_KEYS)
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("promoted_transformer_model", "rmse_gate") in checks
    assert {name for key, name in checks if key in in_group} == {"rmse_gate"}


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
    result = materialize(
        settings_for(tmp_path, data_path=str(path)), dg.AssetSelection.assets("transformer_load_history")
    )
    assert result.output_for_node("transformer_load_history")["kw"].tolist() == pytest.approx(frame["kw"].tolist())
    assert metadata(result, "transformer_load_history")["source"] == str(path)

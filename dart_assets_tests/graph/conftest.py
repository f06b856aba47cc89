"""One trained DART graph per test session, shared by the promotion and forecasting tests.

Built once because training is the slow part: 45 delivery days x 2 points of synthetic market data, the
features, the three candidates with tiny hyperparameters (each a Pipes subprocess), then `promoted_model`.
Everything lives in a temp folder: asset files, a real SQLite MLflow store and a persistent Dagster instance, so
`promoted_model` finds the candidates' materializations exactly as in production.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from mlflow import MlflowClient

from dart_assets.graph.forecasting import dart_forecast, forecast_accuracy
from dart_assets.graph.market import hourly_features, market_data
from dart_assets.graph.partitions import forecast_days
from dart_assets.graph.promotion import PromotionGate, promoted_model, rmse_gate
from dart_assets.graph.training import MODEL_ASSETS
from dart_assets.resources.io_manager import ParquetIOManager
from dart_assets.resources.market_source import MarketDataSource
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.resources.training_launcher import TrainingLauncher

POINTS = ["HB_HOUSTON", "HB_NORTH"]
MARKET_START, MARKET_END = "2025-01-25", "2025-03-10"  # 45 days; covers the spring-forward day 2025-03-09
# Tiny but learnable: enough for the winner to pass the default gate, cheap enough for CI.
TRAIN_CONFIG = {
    "lgbm_model": {"num_boost_round": 40, "learning_rate": 0.15},
    "xgb_model": {"num_boost_round": 40, "learning_rate": 0.15},
    "deep_model": {"max_epochs": 2, "hidden_size": 8},
}
ALL_ASSETS = [market_data, hourly_features, *MODEL_ASSETS.values(), promoted_model, dart_forecast, forecast_accuracy]
ALL_CHECKS = [rmse_gate]


def resources_for(storage: Path, tracking_uri: str, gate: PromotionGate | None = None) -> dict:
    return {
        "io_manager": ParquetIOManager(base_path=str(storage)),
        "market_source": MarketDataSource(settlement_points=POINTS),
        "mlflow": MlflowResource(tracking_uri=tracking_uri),
        "launcher": TrainingLauncher(storage=str(storage)),
        "gate": gate or PromotionGate(),
    }


def materialize(selection, resources: dict, instance: dg.DagsterInstance, **kwargs) -> dg.ExecuteInProcessResult:
    """Run `selection` out of the whole graph; unselected upstream assets are read from storage."""
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], selection=selection, resources=resources, instance=instance, **kwargs
    )


def metadata_of(result: dg.ExecuteInProcessResult, key: str) -> dict:
    [event] = result.asset_materializations_for_node(key)
    return {k: v.value for k, v in event.metadata.items()}


@dataclass
class TrainedGraph:
    root: Path
    storage: Path
    tracking_uri: str
    instance: dg.DagsterInstance
    training: dg.ExecuteInProcessResult
    promotion: dg.ExecuteInProcessResult

    def resources(
        self, gate: PromotionGate | None = None, tracking_uri: str | None = None, storage: Path | None = None
    ) -> dict:
        return resources_for(storage or self.storage, tracking_uri or self.tracking_uri, gate)

    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)

    def materialize(self, selection, **kwargs) -> dg.ExecuteInProcessResult:
        resources = kwargs.pop("resources", None) or self.resources()
        instance = kwargs.pop("instance", None) or self.instance
        return materialize(selection, resources, instance, **kwargs)


@pytest.fixture(scope="session")
def migrated_mlflow_db(tmp_path_factory) -> Path:
    """An empty, migrated MLflow SQLite store: copy it instead of paying the schema migrations again."""
    db = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture(scope="session")
def fresh_tracking_uri(tmp_path_factory, migrated_mlflow_db):
    """A factory of empty MLflow stores (no registered model)."""

    def make() -> str:
        folder = tmp_path_factory.mktemp("mlflow_fresh")
        shutil.copy(migrated_mlflow_db, folder / "mlflow.db")
        return f"sqlite:///{folder / 'mlflow.db'}"

    return make


@pytest.fixture(scope="session")
def trained_graph(tmp_path_factory, fresh_tracking_uri) -> TrainedGraph:
    assert forecast_days.start.date().isoformat() <= MARKET_START, "DART_START_DATE is after the test data window"
    root = tmp_path_factory.mktemp("dart_graph")
    storage = root / "storage"
    tracking_uri = fresh_tracking_uri()
    (root / "dagster_home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    resources = resources_for(storage, tracking_uri)

    market = dg.materialize(
        [market_data],
        resources=resources,
        instance=instance,
        tags={"dagster/asset_partition_range_start": MARKET_START, "dagster/asset_partition_range_end": MARKET_END},
    )
    assert market.success
    training = materialize(
        dg.AssetSelection.assets("hourly_features", *MODEL_ASSETS),
        resources,
        instance,
        run_config={"ops": {key: {"config": config} for key, config in TRAIN_CONFIG.items()}},
    )
    assert training.success
    promotion = materialize(dg.AssetSelection.assets("promoted_model"), resources, instance)
    assert promotion.success
    return TrainedGraph(root, storage, tracking_uri, instance, training, promotion)

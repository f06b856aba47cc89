"""One trained DART graph per test session, shared by the promotion and forecasting tests.

Built once because training is the slow part: 45 delivery days x 2 points of synthetic market data, the
features, every family's candidate with tiny hyperparameters (trained in the step process, as the local launcher
does), then `promoted_model`. The definitions are production's, built from an explicit Settings; everything lives in
a temp folder: asset files, a real SQLite MLflow store and a persistent Dagster instance, so `promoted_model` finds
the candidates' materializations exactly as in production.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from mlflow import MlflowClient

from dart_assets.defs import build_defs
from dart_assets.defs.dart.training import MODEL_ASSET_KEYS
from dart_assets.settings import Settings

POINTS = ("HB_HOUSTON", "HB_NORTH")
MARKET_START, MARKET_END = "2025-01-25", "2025-03-10"  # 45 days; covers the spring-forward day 2025-03-09
# Tiny but learnable: enough for the winner to pass the default gate, cheap enough for CI.
TRAIN_CONFIG = {
    "lgbm_model": {"num_boost_round": 40, "learning_rate": 0.15},
    "xgb_model": {"num_boost_round": 40, "learning_rate": 0.15},
    "lstm_model": {"max_epochs": 2, "hidden_size": 8},
}


def settings_for(storage: Path, tracking_uri: str, **overrides: Any) -> Settings:
    """The production settings for a test: the test's storage and MLflow store, two hubs."""
    return Settings(settlement_points=POINTS, storage=str(storage), mlflow_tracking_uri=tracking_uri, **overrides)


def materialize(
    defs: dg.Definitions,
    selection: Any,
    instance: dg.DagsterInstance,
    resources: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dg.ExecuteInProcessResult:
    """Run `selection` out of the whole graph of `defs`; unselected upstream assets are read from storage."""
    return dg.materialize(
        [*(defs.assets or ()), *(defs.asset_checks or ())],
        selection=selection,
        resources={**(defs.resources or {}), **(resources or {})},
        instance=instance,
        **kwargs,
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

    def settings(self, **overrides: Any) -> Settings:
        return dataclasses.replace(settings_for(self.storage, self.tracking_uri), **overrides)

    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)

    def materialize(
        self,
        selection: Any,
        settings: Settings | None = None,
        instance: dg.DagsterInstance | None = None,
        **kwargs: Any,
    ) -> dg.ExecuteInProcessResult:
        return materialize(build_defs(settings or self.settings()), selection, instance or self.instance, **kwargs)


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
    root = tmp_path_factory.mktemp("dart_graph")
    storage = root / "storage"
    tracking_uri = fresh_tracking_uri()
    (root / "dagster_home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    settings = settings_for(storage, tracking_uri)
    assert settings.start_date <= MARKET_START, "the partitions start after the test data window"
    defs = build_defs(settings)

    market = materialize(
        defs,
        dg.AssetSelection.assets("dam_prices", "rtm_prices", "system_conditions", "driver_forecasts"),
        instance,
        tags={"dagster/asset_partition_range_start": MARKET_START, "dagster/asset_partition_range_end": MARKET_END},
    )
    assert market.success
    training = materialize(
        defs,
        dg.AssetSelection.assets("hourly_features", *MODEL_ASSET_KEYS),
        instance,
        run_config={"ops": {key: {"config": config} for key, config in TRAIN_CONFIG.items()}},
    )
    assert training.success
    promotion = materialize(defs, dg.AssetSelection.assets("promoted_model"), instance)
    assert promotion.success
    return TrainedGraph(root, storage, tracking_uri, instance, training, promotion)

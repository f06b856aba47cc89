"""The one place everything meets: assets, checks, schedules, resources and the executor."""

import dagster as dg

from dart_assets.graph.forecasting import dart_forecast, forecast_accuracy
from dart_assets.graph.market import hourly_features, market_data
from dart_assets.graph.promotion import PromotionGate, promoted_model, rmse_gate
from dart_assets.graph.schedules import jobs, schedules
from dart_assets.graph.training import MODEL_ASSETS
from dart_assets.graph.transformer import transformer_assets, transformer_checks, transformer_resources
from dart_assets.resources.io_manager import ParquetIOManager
from dart_assets.resources.market_source import MarketDataSource
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.resources.training_launcher import TrainingLauncher
from dart_assets.settings import load_settings

settings = load_settings()

# Steps run in parallel; the tag keeps GPU-tagged training steps to one at a time on a machine with one GPU.
# Step processes fork from a server that has already imported the project: ~0.3 s per step instead of ~3 s.
executor = dg.multiprocess_executor.configured(
    {
        "max_concurrent": 3,
        "tag_concurrency_limits": [{"key": "dart/compute", "value": "gpu", "limit": 1}],
        "start_method": {"forkserver": {"preload_modules": ["dart_assets.definitions"]}},
    }
)

defs = dg.Definitions(
    assets=[
        market_data,
        hourly_features,
        *MODEL_ASSETS.values(),
        promoted_model,
        dart_forecast,
        forecast_accuracy,
        *transformer_assets,
    ],
    asset_checks=[rmse_gate, *transformer_checks],
    jobs=jobs,
    schedules=schedules,
    resources={
        "io_manager": ParquetIOManager(base_path=settings.storage),
        "market_source": MarketDataSource(
            source=settings.data_source, path=settings.data_path, settlement_points=list(settings.settlement_points)
        ),
        "mlflow": MlflowResource(
            tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI").get_value(settings.default_mlflow_uri),
        ),
        "launcher": TrainingLauncher(mode=settings.execution, storage=settings.storage),
        "gate": PromotionGate(max_test_rmse=settings.gate_max_test_rmse, min_mae_skill=settings.gate_min_skill),
        **transformer_resources,
    },
    executor=executor,
)

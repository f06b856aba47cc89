"""The one place everything meets: assets, checks, schedules, resources and the executor."""

import dagster as dg

from dart_assets.graph.market import hourly_features, market_data
from dart_assets.resources.io_manager import ParquetIOManager
from dart_assets.resources.market_source import MarketDataSource
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.settings import load_settings

settings = load_settings()

# Steps run in parallel; the tag keeps GPU-tagged training steps to one at a time on a machine with one GPU.
executor = dg.multiprocess_executor.configured(
    {"max_concurrent": 3, "tag_concurrency_limits": [{"key": "dart/compute", "value": "gpu", "limit": 1}]}
)

defs = dg.Definitions(
    assets=[market_data, hourly_features],
    resources={
        "io_manager": ParquetIOManager(base_path=settings.storage),
        "market_source": MarketDataSource(
            source=settings.data_source, path=settings.data_path, settlement_points=list(settings.settlement_points)
        ),
        "mlflow": MlflowResource(
            tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI").get_value(settings.default_mlflow_uri),
        ),
    },
    executor=executor,
)

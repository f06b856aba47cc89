"""The Dagster definitions, built from the settings: the DART and transformer domains side by side, merged with
the resources and executor they share."""

import dagster as dg

from dart_assets.defs.dart import build_dart_defs
from dart_assets.defs.executor import multiprocess_unless_one_step
from dart_assets.defs.resources.io_manager import ParquetIOManager
from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.defs.resources.training_launcher import COMPUTE_TAG
from dart_assets.defs.transformer import build_transformer_defs
from dart_assets.settings import EnvSecret, Settings

MODEL_CACHE = "model_cache"
"""The champion bundles cached under the storage, for forecasts while MLflow is unreachable (ml/champion.py)."""
# Steps run in parallel; the tag keeps GPU-tagged training steps to one at a time on a machine with one GPU.
# Step processes fork from a server that has already imported the project: ~0.3 s per step instead of ~3 s.
# MLflow is preloaded there too: the code location itself no longer imports it (definitions load faster), but the
# training, promotion and forecast steps all need it, so it is imported once per run rather than once per step.
# A run of one step runs in its own process instead (defs/executor.py): no step process, no forkserver.
EXECUTOR = multiprocess_unless_one_step.configured(
    {
        "max_concurrent": 3,
        "tag_concurrency_limits": [{"key": COMPUTE_TAG, "value": "gpu", "limit": 1}],
        "start_method": {"forkserver": {"preload_modules": ["dart_assets.definitions", "mlflow"]}},
    }
)


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions.merge(
        build_dart_defs(settings),
        build_transformer_defs(settings),
        dg.Definitions(resources=shared_resources(settings), executor=EXECUTOR),
    )


def shared_resources(settings: Settings) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManager]:
    """What both domains use: the asset storage and the MLflow store."""
    return {
        "io_manager": ParquetIOManager(base_path=settings.storage),
        "mlflow": MlflowResource(
            tracking_uri=_tracking_uri(settings),
            ui_url=settings.mlflow_ui_url,
            model_cache_dir=f"{settings.storage.rstrip('/')}/{MODEL_CACHE}",
        ),
    }


def _tracking_uri(settings: Settings) -> str:
    """The store: left to Dagster to read from the environment at run time when it came from there (it may carry
    credentials), else the explicit or default URI."""
    uri = settings.mlflow_tracking_uri
    if isinstance(uri, EnvSecret):
        return dg.EnvVar(uri.name)
    return uri or settings.default_mlflow_uri

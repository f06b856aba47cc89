"""The DART graph: market data -> features -> one model per family -> gated promotion -> daily forecast and its
accuracy, with the desk's schedules; beside it, the walk-forward backtest of the same features and selection."""

import dagster as dg

from dart_assets.defs.dart.automation import Rhythm, build_automation, freshness
from dart_assets.defs.dart.backtest import build_backtest_assets
from dart_assets.defs.dart.forecasting import build_forecast_assets
from dart_assets.defs.dart.market import build_hourly_features, build_market_data
from dart_assets.defs.dart.partitions import build_partitions
from dart_assets.defs.dart.promotion import PromotionGate, promoted_model, rmse_gate
from dart_assets.defs.dart.training import build_model_assets
from dart_assets.defs.resources.azureml import AzureMLConfig
from dart_assets.defs.resources.clock import Clock
from dart_assets.defs.resources.market_source import MarketDataSource
from dart_assets.defs.resources.training_launcher import TrainingLauncher
from dart_assets.settings import Settings


def build_dart_defs(settings: Settings) -> dg.Definitions:
    days = build_partitions(settings.start_date)
    rhythm = Rhythm(settings.decision_time)
    dart_forecast, forecast_accuracy = build_forecast_assets(
        days.forecast, freshness(rhythm.forecast_deadline), settings.decision_time
    )
    assets_and_resources = dg.Definitions(
        assets=[
            build_market_data(days.market, freshness(rhythm.market_deadline), settings.decision_time),
            build_hourly_features(settings.decision_time),
            *build_model_assets(settings.execution),
            promoted_model,
            dart_forecast,
            forecast_accuracy,
            *build_backtest_assets(settings.start_date, settings.backtest_min_training_months, settings.execution),
        ],
        asset_checks=[rmse_gate],
        resources={
            "market_source": _market_source(settings),
            "clock": Clock(),
            "gate": PromotionGate(
                max_test_rmse=settings.gate_max_test_rmse,
                min_mae_skill=settings.gate_min_skill,
                min_point_skill=settings.gate_min_point_skill,
            ),
            "launcher": TrainingLauncher(
                mode=settings.execution,
                storage=settings.storage,
                azureml=AzureMLConfig.from_settings(settings.azureml) if settings.azureml else None,
            ),
        },
    )
    return dg.Definitions.merge(assets_and_resources, build_automation(rhythm))


def _market_source(settings: Settings) -> MarketDataSource:
    """The configured source; the download source caches under the storage and gets its ERCOT sign-in as
    `EnvVar`s, resolved only when a run starts."""
    credentials = {secret.name: dg.EnvVar(secret.name) for secret in settings.ercot_api_credentials}
    return MarketDataSource(
        source=settings.data_source,
        path=settings.data_path,
        settlement_points=list(settings.settlement_points),
        cache_dir=f"{settings.storage.rstrip('/')}/raw/ercot_api" if settings.data_source == "ercot_api" else None,
        ercot_api_username=credentials.get("ERCOT_API_USERNAME"),
        ercot_api_password=credentials.get("ERCOT_API_PASSWORD"),
        ercot_api_subscription_key=credentials.get("ERCOT_PUBLIC_API_SUBSCRIPTION_KEY"),
    )

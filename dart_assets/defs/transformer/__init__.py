"""The transformer graph: when does the data-centre transformer's growing load first overload it, and how often?"""

import dagster as dg

from dart_assets.defs.transformer.assets import ASSETS, CHECKS, GROUP, TransformerResource
from dart_assets.market.timeutil import MARKET_TZ
from dart_assets.settings import Settings


def build_transformer_defs(settings: Settings) -> dg.Definitions:
    refresh = dg.define_asset_job(
        "transformer_refresh",
        selection=dg.AssetSelection.groups(GROUP),
        executor_def=dg.in_process_executor,  # a short chain: step processes would cost more than the work
        description="Refit the transformer load model and redo the overload forecast.",
    )
    monthly = dg.ScheduleDefinition(
        job=refresh,
        cron_schedule="0 6 1 * *",
        execution_timezone=MARKET_TZ,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Monthly: refit the transformer load trend with the new month of history.",
    )
    site = settings.transformer
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=CHECKS,
        jobs=[refresh],
        schedules=[monthly],
        resources={
            "transformer": TransformerResource(
                data_path=site.data_path,
                limit_kw=site.limit_kw,
                horizon_years=site.horizon_years,
                rmse_threshold_kw=site.rmse_threshold_kw,
            )
        },
    )

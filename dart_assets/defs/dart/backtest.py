"""Walk-forward backtest: `dart_backtest` (one partition per delivery month) and `backtest_report` (over every
materialized month). Thin Dagster declarations over `dart_assets.backtest`, which holds the protocol.

A range of months is one run (single-run backfill policy); inside it the months train side by side: in local mode
one process per month (as many at once as there are cores), in Azure ML mode one command job per month and family,
on the cluster of the family's compute tag, through the training launcher.
"""

import base64
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, cast

import dagster as dg
import pandas as pd
from pydantic import Field

from dart_assets import backtest, trading
from dart_assets.common.tracking import log_run
from dart_assets.defs.dart.promotion import PromotionGate
from dart_assets.defs.resources.azureml import AzureMLConfig, cancel_jobs
from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.defs.resources.training_launcher import TrainingLauncher
from dart_assets.market.timeutil import MARKET_TZ
from dart_assets.ml.families import FAMILIES
from dart_assets.settings import ExecutionMode

GROUP = "backtest"
MONTH_FORMAT = "%Y-%m"
DAYS_PER_TRAINING_MONTH = 28
"""DART_BACKTEST_MIN_TRAINING_MONTHS x this: the fewest calendar days a month's training rows must span."""
AZUREML_JOBS_IN_FLIGHT = 12


def first_month(start_date: str, min_training_months: int) -> str:
    """The first month (YYYY-MM) that starts at least `min_training_months` after `start_date`."""
    earliest = pd.Timestamp(start_date) + pd.DateOffset(months=min_training_months)
    month = earliest.to_period("M")
    return str(month if earliest.day == 1 else month + 1)


def build_months(start_date: str, min_training_months: int) -> dg.MonthlyPartitionsDefinition:
    """Complete delivery months (America/Chicago) from the first with enough history before it."""
    return dg.MonthlyPartitionsDefinition(
        start_date=first_month(start_date, min_training_months), fmt=MONTH_FORMAT, timezone=MARKET_TZ
    )


class BacktestRunConfig(dg.Config):
    families: list[str] = Field(
        default_factory=lambda: list(FAMILIES),
        description="Model families trained for each month and offered to the production selection rule.",
    )
    window: Literal["expanding", "rolling"] = Field(
        "expanding", description="expanding: every settled row before the month; rolling: the last rolling_months."
    )
    rolling_months: int = Field(12, description="Months of training rows before the month, with window=rolling.")
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='Hyperparameter overrides per family, e.g. {"lgbm": {"num_boost_round": 300}}; the rest are '
        "the family's defaults (dart_assets/ml/<family>.py).",
    )
    seed: int = Field(42, description="Random seed of every training: the same data and seed give the same months.")
    max_parallel: int | None = Field(
        None,
        description="Months trained at once in local mode (unset: the cores); Azure ML jobs in flight in azureml "
        f"mode (unset: {AZUREML_JOBS_IN_FLIGHT}).",
    )

    def to_core(self, gate: PromotionGate, min_training_months: int) -> backtest.BacktestConfig:
        window = backtest.TrainingWindow(
            rolling_months=self.rolling_months if self.window == "rolling" else None,
            min_training_days=DAYS_PER_TRAINING_MONTH * min_training_months,
        )
        return backtest.BacktestConfig(
            rule=gate.rule(), families=tuple(self.families), window=window, params=self.params, seed=self.seed
        )


class ReportConfig(dg.Config):
    fee_per_mwh: float = Field(
        trading.DEFAULT_FEE_PER_MWH,
        description="$ charged per traded MWh (see dart_assets/trading.py for why the default); the report also "
        "gives each strategy's break-even fee.",
    )
    threshold: float = Field(
        trading.DEFAULT_THRESHOLD, description="$/MWh |P50| must exceed for the threshold strategy to trade."
    )


def build_backtest_assets(
    start_date: str, min_training_months: int, execution: ExecutionMode
) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    months = build_months(start_date, min_training_months)
    platform_kinds = {"azureml"} if execution == "azureml" else set()

    @dg.asset(
        group_name=GROUP,
        partitions_def=months,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={"hourly_features": dg.AssetIn()},
        kinds={"pandas", "parquet", *platform_kinds},
        owners=["team:quant-research"],
    )
    def dart_backtest(
        context: dg.AssetExecutionContext,
        config: BacktestRunConfig,
        gate: PromotionGate,
        launcher: TrainingLauncher,
        hourly_features: pd.DataFrame,
    ) -> dg.Output[pd.DataFrame]:
        """Out-of-sample hourly P10/P50/P90 per point for each delivery month, from models trained only on the rows
        settled before the month, chosen by the production rule; with the realised DART, the naive baselines and
        the month's metrics against them."""
        core = config.to_core(gate, min_training_months)
        keys = list(context.partition_keys)
        try:
            if launcher.mode == "azureml":
                results = _on_azureml(context, launcher, hourly_features, keys, core, config.max_parallel)
            else:
                results = backtest.run_months(hourly_features, keys, core, config.max_parallel, context.log.info)
        except backtest.BacktestError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        for key, result in results.items():
            context.add_asset_metadata(month_metadata(result, core), partition_key=key)
        return dg.Output(pd.concat([results[key].frame for key in keys], ignore_index=True))

    @dg.asset(
        group_name=GROUP,
        ins={"dart_backtest": dg.AssetIn()},
        kinds={"pandas", "mlflow"},
        owners=["team:trading-desk"],
    )
    def backtest_report(
        context: dg.AssetExecutionContext, config: ReportConfig, mlflow: MlflowResource, dart_backtest: pd.DataFrame
    ) -> dg.Output[dict[str, Any]]:
        """Every materialized backtest month together: skill, sign accuracy and band coverage by month and point,
        and the virtual-bid P&L of the forecast's strategies next to the naive ones; the numbers in one MLflow
        run."""
        return report(context, config, mlflow, dart_backtest)

    return dart_backtest, backtest_report


def _on_azureml(
    context: dg.AssetExecutionContext,
    launcher: TrainingLauncher,
    features: pd.DataFrame,
    months: list[str],
    core: backtest.BacktestConfig,
    max_parallel: int | None,
) -> dict[str, backtest.MonthResult]:
    """Every (month, family) as an Azure ML job, up to `max_parallel` at once; the months are assembled here. When
    one job fails, or the run is interrupted, the jobs still running are cancelled."""
    for month in months:  # a month without enough history fails before anything is submitted
        backtest.training_rows(features, month, core.window)
        backtest.month_rows(features, month)
    submitted: list[str] = []
    pairs = [(month, family) for month in months for family in core.families]
    with ThreadPoolExecutor(max_parallel or AZUREML_JOBS_IN_FLIGHT) as pool:
        futures = {
            (month, family): pool.submit(
                launcher.launch_backtest,
                context,
                family,
                month,
                core.window,
                dict(core.params.get(family, {})),
                core.seed,
                submitted,
            )
            for month, family in pairs
        }
        try:
            candidates = {pair: future.result() for pair, future in futures.items()}
        except BaseException:
            for future in futures.values():
                future.cancel()
            cancel_jobs(cast(AzureMLConfig, launcher.azureml), submitted, context.log.warning)
            raise
    return {
        month: backtest.assemble_month(
            features, month, {family: candidates[(month, family)] for family in core.families}, core
        )
        for month in months
    }


def month_metadata(result: backtest.MonthResult, core: backtest.BacktestConfig) -> dict[str, Any]:
    """What a month's partition shows: the served model and why, its metrics vs the candidates and baselines."""
    served = result.metrics.iloc[0]
    candidates = pd.DataFrame.from_dict(result.candidates, orient="index")
    columns = [c for c in ("val_mae", "val_rmse", "test_mae", "test_rmse", "test_mae_skill") if c in candidates]
    candidates = candidates[columns].assign(train_seconds=pd.Series(result.train_seconds))
    return {
        "served_model": result.served,
        "gate_passed": result.selection.passed,
        "why": result.reason,
        "metrics": dg.MetadataValue.md(
            f"{result.month}, {len(result.frame)} hours: the served forecast, every candidate's P50 and every naive "
            "baseline on the same hours (skill = 1 - MAE / best baseline's MAE):\n\n"
            + result.metrics.to_markdown(floatfmt=".3f")
        ),
        "by_point": dg.MetadataValue.md(trading.quality_report(result.frame, result.month).markdown()),
        "selection_inputs": dg.MetadataValue.md(
            "Each candidate on its training rows' own validation and test splits (what the rule read), and its "
            "training time:\n\n" + candidates.to_markdown(floatfmt=".3f")
        ),
        "training_window": f"{result.train_first_day.date()}..{result.train_last_day.date()} "
        f"({result.train_days} days, {core.window})",
        "mae": float(served["mae"]),
        "mae_skill": float(served["mae_skill"]),
        "sign_accuracy": float(served["sign_accuracy"]),
        "p10_p90_coverage": float(served["p10_p90_coverage"]),
        "hours": len(result.frame),
        "hours_without_forecast": result.hours_without_forecast,
        "seconds": result.seconds,
    }


def report(
    context: dg.AssetExecutionContext, config: ReportConfig, mlflow: MlflowResource, frame: pd.DataFrame
) -> dg.Output[dict[str, Any]]:
    if frame.empty:
        raise dg.Failure("dart_backtest has no materialized months with forecasts; materialize some first")
    result = backtest.report(frame, config.fee_per_mwh, config.threshold)
    store = MlflowResource(
        tracking_uri=mlflow.tracking_uri, experiment_name=backtest.BACKTEST_EXPERIMENT, ui_url=mlflow.ui_url
    )
    store.activate()  # the experiment, with the store's artifact location
    months = result.months
    with tempfile.TemporaryDirectory(prefix="dart_backtest_report_") as work:
        run = log_run(
            backtest.BACKTEST_EXPERIMENT,
            f"backtest-{months[0]}..{months[-1]}",
            result.run_record(Path(work)),
            tags={"dagster_run_id": context.run.run_id, "dagster_asset": "backtest_report"},
        )
    quality = result.quality.table
    pooled = quality.loc[[(trading.ALL, trading.ALL)]].iloc[0]
    summary = result.evaluation.summary
    threshold = summary.loc[[("threshold", trading.POOLED)]].iloc[0]
    record = {
        "mlflow_run_id": run.run_id,
        "months": months,
        "fee_per_mwh": config.fee_per_mwh,
        "threshold": config.threshold,
        "quality": _records(quality.reset_index()),
        "trading": _records(summary.reset_index()),
        "models": _records(result.models.reset_index()),
    }
    chart = base64.b64encode(result.chart_png).decode()
    return dg.Output(
        record,
        metadata={
            "quality": dg.MetadataValue.md(
                "MAE skill vs the best naive baseline, sign accuracy and P10-P90 coverage of the served forecast, by "
                f"month and settlement point ({trading.ALL} = pooled):\n\n" + result.quality.markdown()
            ),
            "trading": dg.MetadataValue.md(result.evaluation.markdown()),
            "pnl_chart": dg.MetadataValue.md(f"![cumulative P&L](data:image/png;base64,{chart})"),
            "models": dg.MetadataValue.md(result.models.to_markdown()),
            "months": dg.MetadataValue.json(months),
            "hours": int(pooled["hours"]),
            "mae_skill": float(pooled["mae_skill"]),
            "sign_accuracy": float(pooled["sign_accuracy"]),
            "p10_p90_coverage": float(pooled["p10_p90_coverage"]),
            "threshold_total_pnl": float(threshold["total_pnl"]),
            "threshold_sharpe": float(threshold["sharpe"]),
            "mlflow_run_id": run.run_id,
            "mlflow_run": dg.MetadataValue.text(store.run_url(run.run_id)),
        },
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-able rows: NaN as null, timestamps as ISO dates."""
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    return cast(list[dict[str, Any]], frame.astype(object).where(frame.notna(), None).to_dict("records"))

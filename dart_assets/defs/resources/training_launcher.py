"""Where a training step runs: in the step's own process, or as an Azure ML command job on the cluster its compute
tag names.

Both launchers run the same training entry point (`dart_assets.entrypoints.train.run_training`, which
`python -m dart_assets.entrypoints.train` wraps in Dagster Pipes on Azure ML) and return the same
`TrainingSummary`, so the asset code and the training logic are identical; only the transport differs. Locally the
step process trains directly: a Pipes subprocess would re-import pandas, MLflow and the model library for each of
the parallel trainers, which on a 2-core machine cost more than it isolates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast, get_args

import dagster as dg
import pandas as pd
from pydantic import model_validator
from upath import UPath

from dart_assets.backtest import BACKTEST_EXPERIMENT, CandidateForecast, TrainingWindow
from dart_assets.common.credentials import split_credentials
from dart_assets.defs.resources.azureml import AzureMLConfig, Compute, build_command_job, job_name, run_job
from dart_assets.defs.resources.mlflow import MlflowResource, display_uri
from dart_assets.entrypoints.train import (
    BACKTEST_METADATA_KEY,
    PREDICTIONS_FILE,
    SUMMARY_METADATA_KEY,
    read_output_summary,
)
from dart_assets.ml import families
from dart_assets.ml.summary import TrainingSummary
from dart_assets.settings import ABFSS, ExecutionMode

ENTRY_POINT = "dart_assets.entrypoints.train"
COMPUTE_TAG = "dart/compute"
COMPUTES: tuple[str, ...] = get_args(Compute)
# For the training assets: retries what may pass (network, throttling, 5xx from Azure at submission). A trainer or
# job that failed, or a bad configuration, raises `Failure(allow_retries=False)` and is not retried.
TRAINING_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class TrainingLauncher(dg.ConfigurableResource):
    """Runs the training entry point for one model family and returns its TrainingSummary."""

    mode: ExecutionMode = "local"
    storage: str
    n_threads: int = 1  # the trainers share the cores in local mode
    azureml: AzureMLConfig | None = None  # required in azureml mode

    @model_validator(mode="after")
    def _azureml_needs_a_workspace_and_the_lake(self) -> TrainingLauncher:
        if self.mode != "azureml":
            return self
        if not ABFSS.match(self.storage):
            raise ValueError(
                f"storage {self.storage!r} is not reachable from an Azure ML job; "
                "set DART_STORAGE=abfss://<container>@<account>.dfs.core.windows.net/"
            )
        if self.azureml is None:
            raise ValueError(
                "azureml mode needs the workspace: AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE "
                "(see infra/README.md)"
            )
        return self

    def features_uri(self) -> str:
        return _join(self.storage, "hourly_features.parquet")

    def output_uri(self, family: str, run_id: str) -> str:
        return _join(self.storage, "models", family, run_id)

    def command(
        self,
        family: str,
        params: dict,
        seed: int,
        run_id: str,
        n_threads: int,
        output: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> list[str]:
        """The entry point's argv; `output` defaults to the training output folder, `extra` are appended."""
        return [
            "-m",
            ENTRY_POINT,
            "--family",
            family,
            "--features",
            self.features_uri(),
            "--output",
            output or self.output_uri(family, run_id),
            "--params",
            json.dumps(params, sort_keys=True),
            "--seed",
            str(seed),
            "--n-threads",
            str(n_threads),
            *extra,
        ]

    def launch(
        self, context: dg.AssetExecutionContext, family: str, params: dict, seed: int, mlflow: MlflowResource
    ) -> TrainingSummary:
        if self.mode == "local":
            return self._launch_local(context, family, params, seed, mlflow)
        return self._launch_azureml(context, family, params, seed, mlflow)

    def _launch_local(
        self, context: dg.AssetExecutionContext, family: str, params: dict, seed: int, mlflow: MlflowResource
    ) -> TrainingSummary:
        from dart_assets.common.tracking import TrackingUnreachableError, unreachable
        from dart_assets.entrypoints.train import run_training

        try:
            mlflow.activate()  # create/migrate the tracking store once, before parallel trainers touch it
        except TrackingUnreachableError as exc:  # may come back: the retry policy tries again
            raise dg.Failure(f"{family} training cannot start: {exc}") from None
        tags = {
            "dagster_run_id": context.run.run_id,
            "dagster_asset": context.asset_key.to_user_string(),
            "launcher": "local",
        }
        try:
            summary = run_training(
                family,
                self.features_uri(),
                self.output_uri(family, context.run.run_id),
                params,
                seed,
                self.n_threads,
                tags,
                context.log.info,
                experiment=mlflow.experiment_name,
            )
        except Exception as exc:
            down = unreachable(mlflow.tracking_uri, exc)
            if down is not None:  # no chained error: its text may name the store with its credentials
                raise dg.Failure(f"{family} training failed: {down}") from None
            # The same code and data would fail again: no retry.
            raise dg.Failure(f"{family} training failed: {type(exc).__name__}: {exc}", allow_retries=False) from exc
        return summary.with_links(mlflow_run_url=mlflow.run_url(summary.mlflow_run_id))

    def _launch_azureml(
        self, context: dg.AssetExecutionContext, family: str, params: dict, seed: int, mlflow: MlflowResource
    ) -> TrainingSummary:
        config = cast(AzureMLConfig, self.azureml)  # the validator guarantees it in azureml mode
        if split_credentials(mlflow.tracking_uri)[2] is not None:
            raise dg.Failure(
                f"MLFLOW_TRACKING_URI ({display_uri(mlflow.tracking_uri)}) carries a password: an Azure ML job's "
                "environment variables are stored in plain text with the job and shown in the studio. Point the "
                "jobs at a server they reach without one (the deployment's MLflow server in the private network, "
                "infra/README.md).",
                allow_retries=False,
            )
        env = {"MLFLOW_TRACKING_URI": mlflow.tracking_uri, "MLFLOW_EXPERIMENT_NAME": mlflow.experiment_name}
        if mlflow.ui_url:
            env["MLFLOW_UI_URL"] = mlflow.ui_url
        if "://" not in mlflow.tracking_uri or mlflow.tracking_uri.startswith(("sqlite:", "file:")):
            context.log.warning(
                f"MLflow tracking URI {mlflow.tracking_uri} is local to this machine: the Azure ML "
                "job cannot log there; set MLFLOW_TRACKING_URI to the MLflow server's URL "
                "(terraform output -raw mlflow_tracking_uri; infra/README.md)"
            )
        job = build_command_job(
            config,
            compute=compute_of(context),
            argv=self.command(family, params, seed, context.run.run_id, config.n_threads),
            env=env,
            name=job_name(family, context.run.run_id),
            display_name=f"train-{family}",
            experiment_name=mlflow.experiment_name,
            tags={
                "dagster_run_id": context.run.run_id,
                "dagster_asset": context.asset_key.to_user_string(),
                "model_family": family,
            },
        )
        reported, studio_url = run_job(context, config, job)
        output = self.output_uri(family, context.run.run_id)
        return _summary_of(reported, job.name, output).with_links(azureml_job_url=studio_url)

    def backtest_output_uri(self, month: str, family: str, run_id: str) -> str:
        return _join(self.storage, "backtest", month, family, run_id)

    def launch_backtest(
        self,
        context: dg.AssetExecutionContext,
        family: str,
        month: str,
        window: TrainingWindow,
        params: dict,
        seed: int,
        submitted: list[str] | None = None,
    ) -> CandidateForecast:
        """One family's share of backtest month `month` as an Azure ML job on the cluster of the family's compute
        tag (the tag its training asset carries); its forecasts come back through the job's output folder. The job's
        name is appended to `submitted` before it is submitted, so a caller can cancel it."""
        if self.mode != "azureml":
            raise ValueError("launch_backtest submits Azure ML jobs; locally dart_assets.backtest trains in-process")
        config = cast(AzureMLConfig, self.azureml)
        run_id = context.run.run_id
        output = self.backtest_output_uri(month, family, run_id)
        extra: tuple[str, ...] = ("--backtest-month", month, "--min-training-days", str(window.min_training_days))
        if window.rolling_months is not None:
            extra += ("--rolling-months", str(window.rolling_months))
        job = build_command_job(
            config,
            compute=families.get(family).compute,
            argv=self.command(family, params, seed, run_id, config.n_threads, output, extra),
            env={},
            name=job_name(f"backtest-{month}-{family}", run_id),
            display_name=f"backtest-{month}-{family}",
            experiment_name=BACKTEST_EXPERIMENT,
            tags={
                "dagster_run_id": run_id,
                "dagster_asset": context.asset_key.to_user_string(),
                "model_family": family,
                "backtest_month": month,
            },
        )
        if submitted is not None:
            submitted.append(job.name)
        reported, _ = run_job(context, config, job)
        entry: Any = None if reported is None else (reported.metadata or {}).get(BACKTEST_METADATA_KEY)
        if entry is None:  # also a job an earlier attempt submitted: its Pipes messages went to that attempt
            raise dg.Failure(f"Azure ML job {job.name} completed without reporting its backtest candidate to this step")
        with (UPath(output) / PREDICTIONS_FILE).open("rb") as handle:
            predictions = pd.read_parquet(handle)
        return CandidateForecast.from_summary(
            entry.value if isinstance(entry, dg.MetadataValue) else entry, predictions
        )


def _summary_of(reported: dg.MaterializeResult | None, job: str, output_uri: str) -> TrainingSummary:
    """The TrainingSummary a job reported through Pipes, or, for a job an earlier attempt submitted (its Pipes
    messages went to that attempt), the one it published in its output folder."""
    if reported is None:
        summary = read_output_summary(output_uri)
        if summary is None:
            raise dg.Failure(
                f"Azure ML job {job} completed without publishing its training summary to {output_uri}",
                allow_retries=False,
            )
        return summary
    entry: Any = (reported.metadata or {}).get(SUMMARY_METADATA_KEY)
    if entry is None:
        raise dg.Failure(f"Azure ML job {job} completed without reporting a training summary", allow_retries=False)
    return TrainingSummary.from_dict(entry.value if isinstance(entry, dg.MetadataValue) else entry)


def compute_of(context: dg.AssetExecutionContext) -> Compute:
    """The step's `dart/compute` op tag: it, not the model family, decides the cluster."""
    compute = context.op_def.tags.get(COMPUTE_TAG)
    if compute not in COMPUTES:
        raise dg.Failure(
            f"{context.asset_key.to_user_string()}: op tag {COMPUTE_TAG}={compute!r} must be one of "
            f"{', '.join(COMPUTES)} to run on Azure ML",
            allow_retries=False,
        )
    return cast(Compute, compute)


def _join(base: str, *parts: str) -> str:
    """A URI string keeping the whole base: UPath would drop abfss's `@<account>` host, which the job needs."""
    if "://" in base:
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).resolve().joinpath(*parts))

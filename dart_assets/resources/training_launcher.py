"""Where a training step runs: in the step's own process, or as an Azure ML command job on the cluster its compute
tag names.

Both launchers run the same training entry point (`dart_assets.remote.train.run_training`, which
`python -m dart_assets.remote.train` wraps in Dagster Pipes on Azure ML) and report the same metadata, so the asset
code and the training logic are identical; only the transport differs. Locally the step process trains directly:
a Pipes subprocess would re-import pandas, MLflow and the model library for each of the three parallel trainers,
which on a 2-core machine cost more than it isolates.
"""

import json
from pathlib import Path
from typing import Any

import dagster as dg

from dart_assets.resources.azureml import AzureMLConfig, build_command_job, job_name, run_job
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.settings import EXECUTION_MODES

COMPUTE_TAG = "dart/compute"
COMPUTES = ("cpu", "gpu")
# For the training assets: retries what may pass (network, throttling, 5xx from Azure at submission). A trainer or
# job that failed, or a bad configuration, raises `Failure(allow_retries=False)` and is not retried.
TRAINING_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class TrainingLauncher(dg.ConfigurableResource):
    """Launches `dart_assets.remote.train` for one model family and returns its reported materialization."""

    mode: str = "local"
    storage: str
    n_threads: int = 1  # three trainers share the cores in local mode
    azureml: AzureMLConfig | None = None  # unset: read from AZURE_*/AZUREML_* when an azureml step launches

    def features_uri(self) -> str:
        return _join(self.storage, "hourly_features.parquet")

    def output_uri(self, family: str, run_id: str) -> str:
        return _join(self.storage, "models", family, run_id)

    def command(self, family: str, params: dict, seed: int, run_id: str, n_threads: int) -> list[str]:
        return [
            "-m",
            "dart_assets.remote.train",
            "--family",
            family,
            "--features",
            self.features_uri(),
            "--output",
            self.output_uri(family, run_id),
            "--params",
            json.dumps(params, sort_keys=True),
            "--seed",
            str(seed),
            "--n-threads",
            str(n_threads),
        ]

    def launch(
        self, context: dg.AssetExecutionContext, family: str, params: dict, seed: int, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        if self.mode not in EXECUTION_MODES:
            raise dg.Failure(
                f"execution mode {self.mode!r} is not valid; use one of: {', '.join(EXECUTION_MODES)}",
                allow_retries=False,
            )
        if self.mode == "local":
            return self._launch_local(context, family, params, seed, mlflow)
        return self._launch_azureml(context, family, params, seed, mlflow)

    def _launch_local(self, context, family, params, seed, mlflow) -> dg.MaterializeResult:
        from dart_assets.remote.train import pipes_metadata, run_training

        mlflow.activate()  # create/migrate the tracking store once, before parallel trainers touch it
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
        except Exception as exc:  # the same code and data would fail again: no retry
            raise dg.Failure(f"{family} training failed: {type(exc).__name__}: {exc}", allow_retries=False) from exc
        wire = pipes_metadata(summary, mlflow.run_url(summary["mlflow_run_id"]))
        return dg.MaterializeResult(metadata={key: _metadata_value(entry) for key, entry in wire.items()})

    def _launch_azureml(self, context, family, params, seed, mlflow) -> dg.MaterializeResult:
        if not self.storage.startswith("abfss://"):
            raise dg.Failure(
                f"storage {self.storage!r} is not reachable from an Azure ML job; "
                "set DART_STORAGE=abfss://<container>@<account>.dfs.core.windows.net/",
                allow_retries=False,
            )
        config = self.azureml or AzureMLConfig.from_env(self.storage)
        env = {"MLFLOW_TRACKING_URI": mlflow.tracking_uri, "MLFLOW_EXPERIMENT_NAME": mlflow.experiment_name}
        if mlflow.ui_url:
            env["MLFLOW_UI_URL"] = mlflow.ui_url
        if "://" not in mlflow.tracking_uri or mlflow.tracking_uri.startswith(("sqlite:", "file:")):
            context.log.warning(
                f"MLflow tracking URI {mlflow.tracking_uri} is local to this machine: the Azure ML "
                "job cannot log there; set MLFLOW_TRACKING_URI to the workspace's (infra/README.md)"
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
        return run_job(context, config, job)


def _metadata_value(entry: dict[str, Any]) -> dg.MetadataValue:
    """One metadata entry from the Pipes wire format ({"type", "raw_value"}) the remote entry point reports."""
    build = {
        "md": dg.MetadataValue.md,
        "float": dg.MetadataValue.float,
        "int": dg.MetadataValue.int,
        "text": dg.MetadataValue.text,
        "json": dg.MetadataValue.json,
        "url": dg.MetadataValue.url,
    }
    return build[entry["type"]](entry["raw_value"])


def compute_of(context: dg.AssetExecutionContext) -> str:
    """The step's `dart/compute` op tag: it, not the model family, decides the cluster."""
    compute = context.op_def.tags.get(COMPUTE_TAG)
    if compute not in COMPUTES:
        raise dg.Failure(
            f"{context.asset_key.to_user_string()}: op tag {COMPUTE_TAG}={compute!r} must be one of "
            f"{', '.join(COMPUTES)} to run on Azure ML",
            allow_retries=False,
        )
    return compute


def _join(base: str, *parts: str) -> str:
    """A URI string keeping the whole base: UPath would drop abfss's `@<account>` host, which the job needs."""
    if "://" in base:
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).resolve().joinpath(*parts))

"""Where a training step runs: a local subprocess, or an Azure ML command job on the cluster its compute tag names.

Both launchers run the same entry point (`python -m dart_assets.remote.train`) under Dagster Pipes, so the asset
code and the training logic are identical; only the transport differs.
"""

import json
import sys
from pathlib import Path

import dagster as dg
from dagster._core.errors import DagsterPipesExecutionError

from dart_assets.resources.azureml import AzureMLConfig, build_command_job, job_name, run_job
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.settings import EXECUTION_MODES

COMPUTE_TAG = "dart/compute"
COMPUTES = ("cpu", "gpu")
# For the training assets: retries what may pass (network, throttling, 5xx from Azure at submission). A trainer or
# job that failed, or a bad configuration, raises `Failure(allow_retries=False)` and is not retried.
TRAINING_RETRY_POLICY = dg.RetryPolicy(max_retries=3, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


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
            "-m", "dart_assets.remote.train",
            "--family", family,
            "--features", self.features_uri(),
            "--output", self.output_uri(family, run_id),
            "--params", json.dumps(params, sort_keys=True),
            "--seed", str(seed),
            "--n-threads", str(n_threads),
        ]

    def launch(self, context: dg.AssetExecutionContext, family: str, params: dict, seed: int,
               mlflow: MlflowResource) -> dg.MaterializeResult:
        if self.mode not in EXECUTION_MODES:
            raise dg.Failure(f"execution mode {self.mode!r} is not valid; use one of: {', '.join(EXECUTION_MODES)}",
                             allow_retries=False)
        env = {"MLFLOW_TRACKING_URI": mlflow.tracking_uri, "MLFLOW_EXPERIMENT_NAME": mlflow.experiment_name}
        if mlflow.ui_url:
            env["MLFLOW_UI_URL"] = mlflow.ui_url
        if self.mode == "local":
            return self._launch_local(context, family, params, seed, mlflow, env)
        return self._launch_azureml(context, family, params, seed, mlflow, env)

    def _launch_local(self, context, family, params, seed, mlflow, env) -> dg.MaterializeResult:
        mlflow.activate()  # create/migrate the tracking store once, before parallel trainers touch it
        args = self.command(family, params, seed, context.run.run_id, self.n_threads)
        try:
            return dg.PipesSubprocessClient(env=env).run(command=[sys.executable, *args], context=context).get_materialize_result()
        except DagsterPipesExecutionError as exc:  # the same code and data would fail again: no retry
            raise dg.Failure(f"{family} training failed: {exc}", allow_retries=False) from exc

    def _launch_azureml(self, context, family, params, seed, mlflow, env) -> dg.MaterializeResult:
        if not self.storage.startswith("abfss://"):
            raise dg.Failure(f"storage {self.storage!r} is not reachable from an Azure ML job; "
                             "set DART_STORAGE=abfss://<container>@<account>.dfs.core.windows.net/", allow_retries=False)
        config = self.azureml or AzureMLConfig.from_env(self.storage)
        if "://" not in mlflow.tracking_uri or mlflow.tracking_uri.startswith(("sqlite:", "file:")):
            context.log.warning(f"MLflow tracking URI {mlflow.tracking_uri} is local to this machine: the Azure ML "
                                "job cannot log there; set MLFLOW_TRACKING_URI to the workspace's (infra/README.md)")
        job = build_command_job(
            config,
            compute=compute_of(context),
            argv=self.command(family, params, seed, context.run.run_id, config.n_threads),
            env=env,
            name=job_name(family, context.run.run_id),
            display_name=f"train-{family}",
            experiment_name=mlflow.experiment_name,
            tags={"dagster_run_id": context.run.run_id, "dagster_asset": context.asset_key.to_user_string(),
                  "model_family": family},
        )
        return run_job(context, config, job)


def compute_of(context: dg.AssetExecutionContext) -> str:
    """The step's `dart/compute` op tag: it, not the model family, decides the cluster."""
    compute = context.op_def.tags.get(COMPUTE_TAG)
    if compute not in COMPUTES:
        raise dg.Failure(f"{context.asset_key.to_user_string()}: op tag {COMPUTE_TAG}={compute!r} must be one of "
                         f"{', '.join(COMPUTES)} to run on Azure ML", allow_retries=False)
    return compute


def _join(base: str, *parts: str) -> str:
    """A URI string keeping the whole base: UPath would drop abfss's `@<account>` host, which the job needs."""
    if "://" in base:
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).resolve().joinpath(*parts))

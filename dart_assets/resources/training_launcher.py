"""Where a training step runs: a local subprocess, or an Azure ML command job on the cluster its compute tag names.

Both launchers run the same entry point (`python -m dart_assets.remote.train`) under Dagster Pipes, so the asset
code and the training logic are identical; only the transport differs.
"""

import json
import sys

import dagster as dg
from upath import UPath

from dart_assets.resources.mlflow import MlflowResource
from dart_assets.settings import EXECUTION_MODES

COMPUTE_TAG = "dart/compute"


class TrainingLauncher(dg.ConfigurableResource):
    """Launches `dart_assets.remote.train` for one model family and returns its reported materialization."""

    mode: str = "local"
    storage: str
    n_threads: int = 1  # three trainers share the cores in local mode

    def features_uri(self) -> str:
        return str(_join(self.storage, "hourly_features.parquet"))

    def output_uri(self, family: str, run_id: str) -> str:
        return str(_join(self.storage, "models", family, run_id))

    def command(self, family: str, params: dict, seed: int, run_id: str) -> list[str]:
        return [
            "-m", "dart_assets.remote.train",
            "--family", family,
            "--features", self.features_uri(),
            "--output", self.output_uri(family, run_id),
            "--params", json.dumps(params, sort_keys=True),
            "--seed", str(seed),
            "--n-threads", str(self.n_threads),
        ]

    def launch(self, context: dg.AssetExecutionContext, family: str, params: dict, seed: int,
               mlflow: MlflowResource) -> dg.MaterializeResult:
        if self.mode not in EXECUTION_MODES:
            raise ValueError(f"execution mode {self.mode!r} is not valid; use one of: {', '.join(EXECUTION_MODES)}")
        mlflow.activate()  # create/migrate the tracking store once, before parallel trainers touch it
        env = {"MLFLOW_TRACKING_URI": mlflow.tracking_uri, "MLFLOW_EXPERIMENT_NAME": mlflow.experiment_name}
        if mlflow.ui_url:
            env["MLFLOW_UI_URL"] = mlflow.ui_url
        args = self.command(family, params, seed, context.run_id)
        if self.mode == "local":
            client = dg.PipesSubprocessClient(env=env)
            return client.run(command=[sys.executable, *args], context=context).get_materialize_result()
        raise NotImplementedError("azureml launcher: see dart_assets/resources/azureml.py")


def _join(base: str, *parts: str) -> UPath:
    return UPath(base).joinpath(*parts) if "://" in base else UPath(base).resolve().joinpath(*parts)

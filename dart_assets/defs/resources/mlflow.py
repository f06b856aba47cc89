"""MLflow tracking and registry as a Dagster resource.

Why not dagster-mlflow: its `mlflow_tracking` is a legacy function resource that makes all steps of one Dagster
run share ONE MLflow run (found by a run tag, racing when parallel steps start together), while we want one MLflow
run per trained model, and it pins pandas<3. This resource only points MLflow at the store and makes sure the
store exists before parallel steps use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from filelock import FileLock
from pydantic import Field

from dart_assets.common.credentials import connect, strip_credentials
from dart_assets.ml import MODEL_NAME

if TYPE_CHECKING:
    from mlflow import MlflowClient

REGISTRY_POOL = "registry"
"""The pool of the steps that move registry aliases: deploy/dagster.yaml gives it one slot, so two runs never
promote at the same moment against a server store (a SQLite store also has a file lock, common/registry.py)."""


def _sqlite_file(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def display_uri(uri: str) -> str:
    """The URI without user:password@, so a store URI with credentials can be shown in metadata and logs."""
    return strip_credentials(uri)


class MlflowResource(dg.ConfigurableResource):
    """Where runs and registered models live: local SQLite by default, the deployment's MLflow server (deploy/,
    infra/) in production."""

    tracking_uri: str
    experiment_name: str = MODEL_NAME
    ui_url: str | None = None  # e.g. http://127.0.0.1:5000 when `mlflow ui` runs; used for links in metadata
    model_cache_dir: str | None = Field(
        default=None,
        description="Where the champion's bundle is cached (keyed by model and registry version) for forecasts "
        "made while MLflow is unreachable; None: no cache.",
    )

    # mlflow is imported where used: importing it costs ~1.7 s, paid by every step process and CLI call otherwise.
    def activate(self) -> str:
        """Point this process at the store, create/migrate it once (under a file lock), return the experiment id.

        Three training steps starting at once against a fresh SQLite store would each run MLflow's schema
        migrations and one would fail; the lock makes the first one do it while the others wait. A store that does
        not answer raises TrackingUnreachableError naming it (without credentials).
        """
        from dart_assets.common.tracking import unreachable

        store = connect(self.tracking_uri)
        try:
            db = _sqlite_file(store)
            if db is None:
                return self._ensure_experiment(store)
            db.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(db) + ".lock", timeout=300):
                return self._ensure_experiment(store)
        except Exception as exc:
            error = unreachable(self.tracking_uri, exc)
            if error is None:
                raise
            raise error from None  # the original error's text may carry the URI's credentials

    def _ensure_experiment(self, store: str) -> str:
        import mlflow

        from dart_assets.common.tracking import ensure_experiment

        db = _sqlite_file(store)
        artifacts = (db.parent / "mlartifacts").as_uri() if db is not None else None
        experiment_id = ensure_experiment(mlflow.MlflowClient(store), self.experiment_name, artifacts)
        mlflow.set_experiment(self.experiment_name)
        return experiment_id

    def client(self) -> MlflowClient:
        """An MlflowClient on the (initialised) store."""
        import mlflow

        self.activate()
        return mlflow.MlflowClient(connect(self.tracking_uri))

    def run_url(self, run_id: str) -> str:
        """A link a user can open: the MLflow UI if configured, else the tracking store address of the run."""
        import mlflow

        experiment = mlflow.MlflowClient(connect(self.tracking_uri)).get_run(run_id).info.experiment_id
        if self.ui_url:
            return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}"
        store = display_uri(self.tracking_uri)
        return f"{store} (experiment {experiment}, run {run_id}); browse with: mlflow ui --backend-store-uri {store}"

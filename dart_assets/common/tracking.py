"""One MLflow run per trained model: parameters, metrics and artifacts, logged the same way by both domains.

The tracking URI is whatever the caller set (`mlflow.set_tracking_uri`, done by the MLflow resource); nothing here
picks one. The experiment is addressed by id rather than `mlflow.set_experiment`, so parallel callers do not fight
over the process-wide active experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class RunRecord:
    """What one run logs. `inside` runs last, inside the open run (e.g. logging a model in its MLflow flavor)."""

    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    texts: Mapping[str, str] = field(default_factory=dict)  # artifact path -> text
    documents: Mapping[str, Any] = field(default_factory=dict)  # artifact path -> JSON-able object
    files: tuple[Path, ...] = ()  # logged at the artifact root
    folders: Mapping[str, Path] = field(default_factory=dict)  # artifact folder -> local folder
    inside: Callable[[], None] | None = None


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    artifact_uri: str


# MLflow's codes for a store that did not answer (connection refused, timeouts, a failing or throttling server).
_UNAVAILABLE_CODES = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"}


class TrackingUnreachableError(ConnectionError):
    """The MLflow store did not answer; the message names it (without credentials) and why."""

    def __init__(self, store: str, reason: str):
        super().__init__(f"MLflow unreachable at {store}: {reason}")
        self.store = store
        self.reason = reason


def unreachable(uri: str, exc: BaseException) -> TrackingUnreachableError | None:
    """A TrackingUnreachableError naming `uri` when `exc` says the store could not be reached, else None (a real
    answer, such as "no such model", is not an outage)."""
    from mlflow.exceptions import MlflowException
    from requests import RequestException
    from sqlalchemy.exc import OperationalError

    from dart_assets.common.credentials import strip_credentials

    if isinstance(exc, MlflowException):
        down = exc.error_code in _UNAVAILABLE_CODES
    else:
        down = isinstance(exc, (RequestException, OperationalError, OSError))
    if not down:
        return None
    reason = strip_credentials(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    return TrackingUnreachableError(strip_credentials(uri), reason[:400])


def ensure_experiment(client: MlflowClient, name: str, artifact_location: str | None = None) -> str:
    """The experiment's id, creating it if missing. Parallel trainers (or Azure ML jobs) starting together against a
    fresh tracking server race to create it; the loser finds the winner's experiment instead of failing."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name, artifact_location=artifact_location))
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        raced = client.get_experiment_by_name(name)
        if raced is None:
            raise
        return str(raced.experiment_id)


def log_run(
    experiment_name: str,
    run_name: str,
    record: RunRecord,
    tags: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
) -> LoggedRun:
    """Create a finished run holding `record` in `experiment_name` (created with the store's default artifact
    location if missing) and return its id and artifact URI."""
    import mlflow

    experiment_id = ensure_experiment(mlflow.MlflowClient(), experiment_name)
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        tags=dict(tags or {}),
        parent_run_id=parent_run_id,
        nested=parent_run_id is not None,
    ) as run:
        mlflow.log_params(dict(record.params))
        mlflow.log_metrics(dict(record.metrics))
        for path, text in record.texts.items():
            mlflow.log_text(text, path)
        for path, document in record.documents.items():
            mlflow.log_dict(document, path)
        for file in record.files:
            mlflow.log_artifact(str(file))
        for destination, folder in record.folders.items():
            mlflow.log_artifacts(str(folder), destination)
        if record.inside is not None:
            record.inside()
        return LoggedRun(run.info.run_id, run.info.artifact_uri)

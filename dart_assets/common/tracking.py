"""One MLflow run per trained model: parameters, metrics and artifacts, logged the same way by both domains.

The tracking URI is whatever the caller set (`mlflow.set_tracking_uri`, done by the MLflow resource); nothing here
picks one. The experiment is addressed by id rather than `mlflow.set_experiment`, so parallel callers do not fight
over the process-wide active experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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

    experiment = mlflow.get_experiment_by_name(experiment_name)
    experiment_id = experiment.experiment_id if experiment else mlflow.create_experiment(experiment_name)
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

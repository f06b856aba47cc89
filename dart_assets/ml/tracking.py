"""MLflow logging of a TrainingResult: one run per model, with the bundle as the reloadable source of truth.

The tracking URI is whatever the caller set (`mlflow.set_tracking_uri`); nothing here picks one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
from mlflow.models import infer_signature

from dart_assets.ml.artifacts import LoadedModel, library_versions, load_bundle
from dart_assets.ml.training import TrainingResult

BUNDLE_ARTIFACT_PATH = "bundle"


def log_training_run(
    result: TrainingResult,
    experiment_name: str,
    run_name: str,
    tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
) -> str:
    """Log params, metrics, comparison table, plot, bundle (under `bundle/`) and the flavored model `model`.

    Creates the experiment if it does not exist (with the server's default artifact location). Returns the
    run id. Uses an explicit experiment id rather than `mlflow.set_experiment`, so parallel callers do not
    fight over the process-wide active experiment.
    """
    experiment = mlflow.get_experiment_by_name(experiment_name)
    experiment_id = experiment.experiment_id if experiment else mlflow.create_experiment(experiment_name)
    run_tags = {"model_family": result.family, **(tags or {})}
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        tags=run_tags,
        parent_run_id=parent_run_id,
        nested=parent_run_id is not None,
    ) as run:
        mlflow.log_params(
            {
                "family": result.family,
                **{f"param_{k}": v for k, v in result.params.items()},
                "n_train": result.n_train,
                "n_val": result.n_val,
                "n_test": result.n_test,
                **{f"split_{k}": v for k, v in result.split_boundaries.items()},
            }
        )
        mlflow.log_metrics(
            {**result.metrics, "train_seconds": result.train_seconds, "best_iteration": float(result.best_iteration)}
        )
        mlflow.log_text(result.comparison.to_csv(), "comparison.csv")
        mlflow.log_text(result.comparison.to_markdown(floatfmt=".3f"), "comparison.md")
        if result.feature_importance is not None:
            mlflow.log_text(result.feature_importance.to_csv(index=False), "feature_importance.csv")
        mlflow.log_artifact(str(result.plot_png))
        mlflow.log_artifacts(str(result.bundle_dir), BUNDLE_ARTIFACT_PATH)
        _log_flavored_model(result)
        return run.info.run_id


def load_bundle_from_run(run_id: str, dst_path: Path | str | None = None) -> LoadedModel:
    """Download the run's `bundle/` artifacts (into a fresh temp dir unless `dst_path`) and load them."""
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path=BUNDLE_ARTIFACT_PATH,
        dst_path=str(dst_path or tempfile.mkdtemp(prefix="dart_bundle_")),
    )
    return load_bundle(local)


def _log_flavored_model(result: TrainingResult) -> None:
    """The P50 model in its MLflow flavor, for the model registry and UI; the bundle stays the reload path
    (it also carries the quantile models and the fitted transforms the flavor cannot hold)."""
    example = result.input_example
    # Explicit requirements: MLflow's inference would reload the model in a subprocess (slow) and would log
    # torch's "+cpu" local label as a warning anyway.
    library = {"lgbm": "lightgbm", "xgb": "xgboost", "lstm": "torch"}[result.family]
    versions = library_versions()
    requirements = [f"{name}=={versions[name].split('+')[0]}" for name in (library, "numpy", "pandas")]
    if result.family == "lgbm":
        signature = infer_signature(example, result.model.predict(example))
        mlflow.lightgbm.log_model(
            result.model, name="model", signature=signature, input_example=example, pip_requirements=requirements
        )
    elif result.family == "xgb":
        import xgboost as xgb  # family libraries load only in the process that trains that family

        matrix = xgb.DMatrix(
            example.to_numpy(),
            feature_names=result.model.feature_names,
            feature_types=result.model.feature_types,
            enable_categorical=True,
        )
        signature = infer_signature(example, result.model.predict(matrix))
        mlflow.xgboost.log_model(
            result.model,
            name="model",
            signature=signature,
            input_example=example,
            model_format="json",
            pip_requirements=requirements,
        )
    else:
        import torch

        with torch.no_grad():
            output = result.model(torch.from_numpy(example)).numpy()
        signature = infer_signature(np.asarray(example), output)
        # pt2 (torch.export) rather than the pickle format: no pickles anywhere.
        mlflow.pytorch.log_model(
            result.model,
            name="model",
            signature=signature,
            input_example=example,
            serialization_format="pt2",
            pip_requirements=requirements,
        )

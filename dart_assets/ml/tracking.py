"""MLflow logging of a TrainingResult: one run per model, with the bundle as the reloadable source of truth."""

from __future__ import annotations

import tempfile
from pathlib import Path

from dart_assets.common.tracking import RunRecord, log_run
from dart_assets.ml import families
from dart_assets.ml.artifacts import LoadedModel, library_versions, load_bundle
from dart_assets.ml.metrics import per_point_table
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

    The model in its MLflow flavor is the P50 model, for the registry and the UI; the bundle stays the reload path
    (it also carries the quantile models and the fitted transforms the flavor cannot hold). Returns the run id.
    """
    texts = {
        "comparison.csv": result.comparison.to_csv(),
        "comparison.md": result.comparison.to_markdown(floatfmt=".3f"),
        "per_point.md": per_point_table(result.metrics).to_markdown(floatfmt=".3f"),
    }
    if result.feature_importance is not None:
        texts["feature_importance.csv"] = result.feature_importance.to_csv(index=False)
    record = RunRecord(
        params={
            "family": result.family,
            **{f"param_{k}": v for k, v in result.params.items()},
            "n_train": result.n_train,
            "n_val": result.n_val,
            "n_test": result.n_test,
            **{f"split_{k}": v for k, v in result.split_boundaries.items()},
            **{f"serving_{k}": v for k, v in result.serving.to_dict().items()},
        },
        metrics={
            **result.metrics,
            "train_seconds": result.train_seconds,
            "best_iteration": float(result.best_iteration),
        },
        texts=texts,
        files=(result.plot_png,),
        folders={BUNDLE_ARTIFACT_PATH: result.bundle_dir},
        inside=lambda: result.fitted.log_native(
            result.input_example, _pip_requirements(result.family), result.bundle_dir
        ),
    )
    tags = {"model_family": result.family, **(tags or {})}
    return log_run(experiment_name, run_name, record, tags=tags, parent_run_id=parent_run_id).run_id


def load_bundle_from_run(run_id: str, dst_path: Path | str | None = None) -> LoadedModel:
    """Download the run's `bundle/` artifacts (into a fresh temp dir unless `dst_path`) and load them."""
    import mlflow

    local = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path=BUNDLE_ARTIFACT_PATH,
        dst_path=str(dst_path or tempfile.mkdtemp(prefix="dart_bundle_")),
    )
    return load_bundle(local)


def _pip_requirements(family: str) -> list[str]:
    """Explicit requirements: MLflow's inference would reload the model in a subprocess (slow) and would log
    torch's "+cpu" local label as a warning anyway."""
    versions = library_versions()
    requirements = []
    model_family = families.get(family)
    for name in dict.fromkeys((model_family.library, *model_family.requirements, "numpy", "pandas")):
        version = versions[name]
        if version is None:
            raise RuntimeError(f"{name} is not installed: cannot pin it for the logged {family} model")
        requirements.append(f"{name}=={version.split('+')[0]}")
    return requirements

"""One training asset per model family (`<family>_model`), trained in parallel on hourly_features, each in its own
MLflow run.

The assets are built from the family registry (`dart_assets/ml/families.py`): a new family gets its asset, its
launchpad config and its place in the promotion without a line here. Each asset carries the compute its family
prefers as an op tag (`dart/compute`); the executor limits GPU-tagged steps to one at a time, and in Azure ML mode
the tag picks the cluster. Hyperparameters left unset use the family's defaults, so the defaults live in one place.
"""

from typing import Any

import dagster as dg
from pydantic import Field, create_model

from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.defs.resources.training_launcher import COMPUTE_TAG, TRAINING_RETRY_POLICY, TrainingLauncher
from dart_assets.ml.families import FAMILIES
from dart_assets.ml.family import ModelFamily
from dart_assets.ml.gate import candidate_problems
from dart_assets.ml.summary import TrainingSummary
from dart_assets.settings import ExecutionMode

STEP_PRIORITY_TAG = "dagster/priority"
"""Dagster's op tag ordering the steps waiting for an executor slot, highest first."""

GPU_POOL = "gpu"
GROUP = "training"


def asset_name(family: str) -> str:
    return f"{family}_model"


MODEL_ASSET_KEYS = [asset_name(name) for name in FAMILIES]


class TrainerConfig(dg.Config):
    seed: int = Field(42, description="Random seed: the same data and seed give the same model.")

    def overrides(self) -> dict[str, Any]:
        """Hyperparameters the user set; the rest fall back to the family's defaults."""
        return {k: v for k, v in self.model_dump().items() if v is not None and k != "seed"}


def config_class(family: type[ModelFamily]) -> type[TrainerConfig]:
    """The launchpad config of a family: its tunable hyperparameters, each optional, typed like its default."""
    fields: dict[str, Any] = {
        param: (
            type(family.default_params[param]) | None,
            Field(None, description=f"{doc} Unset: {family.default_params[param]!r}."),
        )
        for param, doc in family.tunable.items()
    }
    return create_model(f"{family.name.capitalize()}Config", __base__=TrainerConfig, **fields)


def summary_metadata(summary: TrainingSummary) -> dict[str, dg.MetadataValue]:
    """What the asset page shows: the metrics vs baselines table, the headline numbers, the plot and the links."""
    m = summary.metrics
    meta: dict[str, dg.MetadataValue] = {
        "metrics": dg.MetadataValue.md("Test-set metrics, model vs naive baselines:\n\n" + summary.comparison_md),
        "per_point": dg.MetadataValue.md(
            "Test-set metrics per settlement point (skill against each point's best naive baseline; sign accuracy "
            "also on the traded hours, |P50| above the validation threshold):\n\n" + summary.per_point_md
        ),
        "serving": dg.MetadataValue.json(summary.serving),
        **{
            name: dg.MetadataValue.float(m[name])
            for name in (
                "val_rmse",
                "val_mae",
                "test_rmse",
                "test_mae",
                "test_mae_skill",
                "best_baseline_test_mae",
                "test_prediction_std",
                "test_p10_p90_coverage",
                "test_sign_accuracy_traded",
                "test_traded_share",
            )
            if name in m
        },
        "n_val": dg.MetadataValue.int(summary.n_val),
        "n_test": dg.MetadataValue.int(summary.n_test),
        "train_seconds": dg.MetadataValue.float(summary.train_seconds),
        "best_iteration": dg.MetadataValue.int(summary.best_iteration),
        "split_boundaries": dg.MetadataValue.json(summary.split_boundaries),
        "mlflow_run_id": dg.MetadataValue.text(summary.mlflow_run_id),
        "bundle_uri": dg.MetadataValue.text(summary.bundle_uri),
        "model_files": dg.MetadataValue.text(summary.output_uri),
        "plot": dg.MetadataValue.md(f"![test forecast](data:image/png;base64,{summary.plot_png_base64})"),
    }
    if summary.feature_importance_md:
        meta["feature_importance"] = dg.MetadataValue.md(summary.feature_importance_md)
    if summary.mlflow_run_url:
        link = summary.mlflow_run_url
        meta["mlflow_run"] = dg.MetadataValue.url(link) if link.startswith("http") else dg.MetadataValue.text(link)
    if summary.azureml_job_url:
        meta["azureml_job"] = dg.MetadataValue.url(summary.azureml_job_url)
    return meta


def sanity_check(summary: TrainingSummary) -> dg.AssetCheckResult:
    """Checked from what the trainer reported, in the training step: no extra process or store round trip."""
    problems = candidate_problems(summary)
    return dg.AssetCheckResult(
        check_name="candidate_sanity",
        passed=not problems,
        description="; ".join(problems) or "finite, varying, complete",
    )


def build_model_asset(family: type[ModelFamily], execution: ExecutionMode) -> dg.AssetsDefinition:
    name = asset_name(family.name)
    # In Azure ML mode the UI shows where the steps run.
    platform_kinds = {"azureml"} if execution == "azureml" else set()

    def train(
        context: dg.AssetExecutionContext, config: TrainerConfig, launcher: TrainingLauncher, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        summary = launcher.launch(context, family.name, config.overrides(), config.seed, mlflow)
        return dg.MaterializeResult(metadata=summary_metadata(summary), check_results=[sanity_check(summary)])

    # Dagster reads the launchpad schema off the annotation: this family's own config class (dynamic, so set here).
    train.__annotations__["config"] = config_class(family)
    return dg.asset(
        name=name,
        group_name=GROUP,
        description=f"{family.label} DART forecaster with P10/P90, trained on hourly_features; early stopping on "
        "validation, scored against naive baselines on the test split, logged to MLflow.",
        deps=["hourly_features"],
        kinds={family.flavor, "mlflow", *platform_kinds},
        owners=["team:quant-research"],
        # More trainers than executor slots: the longest starts first.
        op_tags={COMPUTE_TAG: family.compute, STEP_PRIORITY_TAG: str(family.training_cost_rank)},
        tags={COMPUTE_TAG: family.compute},
        # Instance-wide: two runs never share one GPU (deploy/dagster.yaml gives the pool one slot).
        pool=GPU_POOL if family.compute == "gpu" else None,
        retry_policy=TRAINING_RETRY_POLICY,  # transient submission errors; failed trainings are not retried
        check_specs=[
            dg.AssetCheckSpec(
                "candidate_sanity",
                asset=name,
                description="The candidate's metrics are finite, its test predictions vary, and its MLflow run "
                "and bundle are recorded.",
            )
        ],
    )(train)


def build_model_assets(execution: ExecutionMode) -> list[dg.AssetsDefinition]:
    """One training asset per registered family, in registry order."""
    return [build_model_asset(family, execution) for family in FAMILIES.values()]

"""Three candidate models trained in parallel on hourly_features, each in its own MLflow run.

Each asset carries the compute it needs as an op tag (`dart/compute`); the executor limits GPU-tagged steps to
one at a time, and in Azure ML mode the tag picks the cluster. Hyperparameters left unset use the family's
defaults from the ML core (`dart_assets/ml/<family>.py`), so the defaults live in one place.
"""

import dagster as dg
from pydantic import Field

from dart_assets.ml.gate import candidate_problems
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.resources.training_launcher import COMPUTE_TAG, TRAINING_RETRY_POLICY, TrainingLauncher
from dart_assets.settings import load_settings

# In Azure ML mode the UI shows where the steps run.
PLATFORM_KINDS = {"azureml"} if load_settings().execution == "azureml" else set()


class TrainerConfig(dg.Config):
    seed: int = Field(42, description="Random seed: the same data and seed give the same model.")
    learning_rate: float | None = Field(None, description="Unset: the family default.")

    def overrides(self) -> dict:
        """Hyperparameters the user set; the rest fall back to the ML core's defaults."""
        return {k: v for k, v in self.model_dump().items() if v is not None and k != "seed"}


class BoosterConfig(TrainerConfig):
    num_boost_round: int | None = Field(None, description="Upper bound; early stopping on validation ends sooner.")
    early_stopping_rounds: int | None = None


class LgbmConfig(BoosterConfig):
    objective: str | None = Field(None, description="LightGBM objective for the point forecast (default huber).")
    num_leaves: int | None = None
    min_data_in_leaf: int | None = None


class XgbConfig(BoosterConfig):
    objective: str | None = Field(
        None, description="XGBoost objective for the point forecast (default reg:absoluteerror)."
    )
    max_depth: int | None = None
    min_child_weight: float | None = None


class LstmConfig(TrainerConfig):
    lookback: int | None = Field(None, description="Hours of feature history per sample (default 24).")
    hidden_size: int | None = None
    max_epochs: int | None = Field(None, description="Upper bound; early stopping on validation ends sooner.")
    patience: int | None = None
    batch_size: int | None = None


def _model_asset(name: str, family: str, compute: str, kind: str, config_class: type[TrainerConfig], label: str):
    @dg.asset(
        name=name,
        group_name="training",
        description=f"{label} DART forecaster with P10/P90, trained on hourly_features; early stopping on validation, "
        "scored against naive baselines on the test split, logged to MLflow.",
        deps=["hourly_features"],
        kinds={kind, "mlflow", *PLATFORM_KINDS},
        owners=["team:quant-research"],
        op_tags={COMPUTE_TAG: compute},
        tags={COMPUTE_TAG: compute},
        retry_policy=TRAINING_RETRY_POLICY,  # transient submission errors; failed trainings are not retried
        check_specs=[
            dg.AssetCheckSpec(
                "candidate_sanity",
                asset=name,
                description="The candidate's metrics are finite, its test predictions vary, and its MLflow run and bundle are recorded.",
            )
        ],
    )
    def _train(
        context: dg.AssetExecutionContext, config: config_class, launcher: TrainingLauncher, mlflow: MlflowResource
    ) -> dg.MaterializeResult:
        result = launcher.launch(context, family, config.overrides(), config.seed, mlflow)
        # Checked from what the trainer reported, in this step: no extra process or store round trip.
        reported = {key: getattr(value, "value", value) for key, value in (result.metadata or {}).items()}
        problems = candidate_problems(reported)
        sanity = dg.AssetCheckResult(
            check_name="candidate_sanity",
            passed=not problems,
            description="; ".join(problems) or "finite, varying, complete",
        )
        return dg.MaterializeResult(metadata=result.metadata, check_results=[sanity])

    return _train


lgbm_model = _model_asset("lgbm_model", "lgbm", "cpu", "lightgbm", LgbmConfig, "LightGBM")
xgb_model = _model_asset("xgb_model", "xgb", "cpu", "xgboost", XgbConfig, "XGBoost")
deep_model = _model_asset("deep_model", "lstm", "gpu", "pytorch", LstmConfig, "PyTorch LSTM")
MODEL_ASSETS = {"lgbm_model": lgbm_model, "xgb_model": xgb_model, "deep_model": deep_model}

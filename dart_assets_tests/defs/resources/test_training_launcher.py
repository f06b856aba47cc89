"""TrainingLauncher: where the trainer reads and writes, which compute a step asks for, and which failures retry."""

import dagster as dg
import pytest
from pydantic import ValidationError
from upath import UPath

from dart_assets.defs import build_defs
from dart_assets.defs.dart.training import MODEL_ASSET_KEYS
from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.defs.resources.training_launcher import (
    COMPUTE_TAG,
    TRAINING_RETRY_POLICY,
    TrainingLauncher,
    compute_of,
)
from dart_assets.settings import Settings
from dart_assets_tests.fakes.azure_fixtures import STORAGE

DEFS = build_defs(Settings())


def test_abfss_uris_keep_the_account_the_job_needs():
    launcher = TrainingLauncher(storage=STORAGE)

    assert launcher.features_uri() == "abfss://dart-assets@dartlake.dfs.core.windows.net/hourly_features.parquet"
    assert launcher.output_uri("xgb", "run-1") == "abfss://dart-assets@dartlake.dfs.core.windows.net/models/xgb/run-1"
    assert UPath(launcher.features_uri()).storage_options["account_name"] == "dartlake"


def test_memory_and_local_storage_uris(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert TrainingLauncher(storage="memory://lake").output_uri("lgbm", "r") == "memory://lake/models/lgbm/r"
    assert TrainingLauncher(storage="store").features_uri() == str(tmp_path / "store" / "hourly_features.parquet")


def test_compute_comes_from_the_op_tag_not_the_family():
    seen = {}

    def probe(name: str, tags: dict):
        @dg.asset(name=name, op_tags=tags)
        def _probe(context: dg.AssetExecutionContext) -> None:
            seen[name] = compute_of(context)

        return _probe

    result = dg.materialize([probe("lgbm_on_gpu", {COMPUTE_TAG: "gpu"}), probe("untagged", {})], raise_on_error=False)

    assert seen == {"lgbm_on_gpu": "gpu"}
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "op tag dart/compute=None must be one of cpu, gpu" in failure.step_failure_data.error.message
    assert {name: DEFS.get_assets_def(name).op.tags[COMPUTE_TAG] for name in MODEL_ASSET_KEYS} == {
        "lgbm_model": "cpu",
        "xgb_model": "cpu",
        "lstm_model": "gpu",
        "ensemble_model": "cpu",
        "naive_model": "cpu",
    }


def _train(launcher: TrainingLauncher, mlflow_uri: str, asset=None) -> dg.ExecuteInProcessResult:
    """`asset` (production's lgbm_model by default) under the training retry policy (no delay in tests)."""
    asset = asset or DEFS.get_assets_def("lgbm_model")
    job = dg.Definitions(
        assets=[asset],
        resources={"launcher": launcher, "mlflow": MlflowResource(tracking_uri=mlflow_uri)},
        jobs=[
            dg.define_asset_job(
                "train", [asset], op_retry_policy=dg.RetryPolicy(max_retries=TRAINING_RETRY_POLICY.max_retries)
            )
        ],
    ).resolve_job_def("train")
    return job.execute_in_process(raise_on_error=False)


def _failure_and_retries(result) -> tuple[str, int]:
    events = result.all_events
    (failure,) = [e for e in events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    retries = sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in events)
    return failure.step_failure_data.error.message, retries


def test_azureml_mode_refuses_local_storage_when_configured(tmp_path):
    """Before any run: the jobs could not reach a local folder."""
    with pytest.raises(ValidationError, match="is not reachable from an Azure ML job; set DART_STORAGE=abfss://"):
        TrainingLauncher(mode="azureml", storage=str(tmp_path / "store"))


def test_azureml_mode_without_a_workspace_is_refused_when_configured():
    with pytest.raises(ValidationError, match="needs the workspace: AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP"):
        TrainingLauncher(mode="azureml", storage=STORAGE)


def test_execution_mode_is_a_dropdown_of_the_valid_modes():
    with pytest.raises(ValidationError, match="Input should be 'local' or 'azureml'"):
        TrainingLauncher(mode="k8s", storage=STORAGE)


def test_local_training_failure_is_not_retried(tmp_path, mlflow_uri):
    """The trainer rejects the family: it would fail the same way every time, so the retry policy must not rerun it."""

    @dg.asset(op_tags={COMPUTE_TAG: "cpu"})
    def catboost_model(context: dg.AssetExecutionContext, launcher: TrainingLauncher, mlflow: MlflowResource):
        return launcher.launch(context, "catboost", {}, 42, mlflow)

    result = _train(TrainingLauncher(mode="local", storage=str(tmp_path / "store")), mlflow_uri, catboost_model)

    message, retries = _failure_and_retries(result)
    assert message.strip() == (
        "dagster._core.definitions.events.Failure: catboost training failed: "
        "ValueError: unknown model family 'catboost'; expected one of lgbm, xgb, lstm, ensemble, naive"
    )
    assert retries == 0

"""TrainingLauncher: where the trainer reads and writes, which compute a step asks for, and which failures retry."""

import dagster as dg
from upath import UPath

from dart_assets.graph.training import MODEL_ASSETS, lgbm_model
from dart_assets.resources.mlflow import MlflowResource
from dart_assets.resources.training_launcher import COMPUTE_TAG, TRAINING_RETRY_POLICY, TrainingLauncher, compute_of
from dart_assets_tests.remote.azure_fixtures import STORAGE, fake_account, ml_client, mlflow_uri  # noqa: F401


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
    assert {name: a.op.tags[COMPUTE_TAG] for name, a in MODEL_ASSETS.items()} == {
        "lgbm_model": "cpu",
        "xgb_model": "cpu",
        "deep_model": "gpu",
    }


def _train(launcher: TrainingLauncher, mlflow_uri: str, asset=lgbm_model) -> dg.ExecuteInProcessResult:
    """`asset` under the retry policy proposed for the training assets (no delay in tests)."""
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


def test_azureml_mode_refuses_local_storage_before_connecting(tmp_path, ml_client, mlflow_uri):  # noqa: F811
    result = _train(TrainingLauncher(mode="azureml", storage=str(tmp_path / "store")), mlflow_uri)

    message, retries = _failure_and_retries(result)
    assert "is not reachable from an Azure ML job; set DART_STORAGE=abfss://" in message
    assert retries == 0 and ml_client.connections == [] and ml_client.submit_attempts == 0


def test_azureml_mode_without_workspace_env_fails_before_connecting(ml_client, monkeypatch, mlflow_uri):  # noqa: F811
    for name in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)

    result = _train(TrainingLauncher(mode="azureml", storage=STORAGE), mlflow_uri)

    message, retries = _failure_and_retries(result)
    assert "needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE" in message
    assert retries == 0 and ml_client.connections == []


def test_local_training_failure_is_not_retried(tmp_path, mlflow_uri):
    """The trainer rejects the family: it would fail the same way every time, so the retry policy must not rerun it."""

    @dg.asset(op_tags={COMPUTE_TAG: "cpu"})
    def catboost_model(context: dg.AssetExecutionContext, launcher: TrainingLauncher, mlflow: MlflowResource):
        return launcher.launch(context, "catboost", {}, 42, mlflow)

    result = _train(TrainingLauncher(mode="local", storage=str(tmp_path / "store")), mlflow_uri, catboost_model)

    message, retries = _failure_and_retries(result)
    assert message.strip() == (
        "dagster._core.definitions.events.Failure: catboost training failed: "
        "ValueError: unknown model family 'catboost'; expected one of lgbm, xgb, lstm"
    )
    assert retries == 0

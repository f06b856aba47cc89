"""Training assets as Azure ML jobs, end to end: the real assets, launcher, PipesAzureMLClient, blob injector and
reader, and the real trainer entry point in the job; only MLClient and the storage account are local fakes."""

from __future__ import annotations

import os
import shlex
import signal
import threading
import time

import dagster as dg
import mlflow
import pytest
from azure.core.exceptions import ServiceRequestError
from azure.identity import DefaultAzureCredential

from dart_assets.defs import build_defs
from dart_assets.defs.resources.azureml import REPO_ROOT, AzureMLConfig
from dart_assets.defs.resources.mlflow import MlflowResource
from dart_assets.defs.resources.training_launcher import TRAINING_RETRY_POLICY, TrainingLauncher
from dart_assets.settings import AzureMLSettings, Settings
from dart_assets_tests.fakes.azure_fixtures import BLOB_URL, CONTAINER, STORAGE, assert_round_trips, known_rows

SUBSCRIPTION, GROUP, WORKSPACE = "0000-sub", "rg-dart-assets", "mlw-dart"
DEFS = build_defs(Settings())
lgbm_model, xgb_model, lstm_model = (DEFS.get_assets_def(key) for key in ("lgbm_model", "xgb_model", "lstm_model"))


def _resources(mlflow_uri: str) -> dict:
    workspace = AzureMLSettings(
        subscription_id=SUBSCRIPTION,
        resource_group=GROUP,
        workspace=WORKSPACE,
        pipes_account_url=BLOB_URL,
        pipes_container=CONTAINER,
        identity_client_id="mi-client-id",
    )
    config = AzureMLConfig.from_settings(workspace, poll_interval_seconds=0.5)
    return {
        "launcher": TrainingLauncher(mode="azureml", storage=STORAGE, azureml=config),
        "mlflow": MlflowResource(tracking_uri=mlflow_uri, experiment_name="dart-test"),
    }


def _messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


@pytest.fixture
def no_pipes_grace(monkeypatch):
    """Dagster waits 10 s for late Pipes messages when a job never closed Pipes (cancelled, or never submitted)."""
    monkeypatch.setattr("dagster._core.pipes.utils.WAIT_FOR_LOGS_AFTER_EXECUTION_INTERVAL", 0)


def _step_failure(result) -> str:
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    data = failure.step_failure_data
    return f"{data.error.message} {data.user_failure_data.description if data.user_failure_data else ''}"


def test_lgbm_trains_as_a_cpu_job_and_reports_back(tmp_path, fake_account, ml_client, features_parquet, mlflow_uri):
    (fake_account / "hourly_features.parquet").write_bytes(features_parquet)
    instance = dg.DagsterInstance.ephemeral()

    result = dg.materialize(
        [lgbm_model],
        resources=_resources(mlflow_uri),
        instance=instance,
        run_config={"ops": {"lgbm_model": {"config": {"num_boost_round": 20}}}},
    )

    (job,) = ml_client.submitted
    assert result.success, ml_client.output(job.name)
    # Submitted once, to the CPU cluster, as the developer's DefaultAzureCredential, to the configured workspace.
    assert ml_client.submit_attempts == 1
    ((credential, *workspace),) = ml_client.connections
    assert isinstance(credential, DefaultAzureCredential) and workspace == [SUBSCRIPTION, GROUP, WORKSPACE]
    assert (job.compute, job.environment, job.code) == ("cpu-cluster", "azureml:dart-assets-cpu@latest", str(REPO_ROOT))
    assert job.experiment_name == "dart-test" and job.display_name == "train-lgbm"
    assert job.tags == {"dagster_run_id": result.run_id, "dagster_asset": "lgbm_model", "model_family": "lgbm"}
    output = f"{STORAGE}models/lgbm/{result.run_id}"
    assert shlex.split(job.command) == [
        "python",
        "-m",
        "dart_assets.entrypoints.train",
        "--family",
        "lgbm",
        "--features",
        f"{STORAGE}hourly_features.parquet",
        "--output",
        output,
        "--params",
        '{"num_boost_round": 20}',
        "--seed",
        "42",
        "--n-threads",
        "4",
    ]
    env = job.environment_variables
    assert {
        k: env[k]
        for k in ("DART_PIPES_TRANSPORT", "DART_PIPES_BLOB_ACCOUNT_URL", "MLFLOW_EXPERIMENT_NAME", "AZURE_CLIENT_ID")
    } == {
        "DART_PIPES_TRANSPORT": "azure-blob",
        "DART_PIPES_BLOB_ACCOUNT_URL": BLOB_URL,
        "MLFLOW_EXPERIMENT_NAME": "dart-test",
        "AZURE_CLIENT_ID": "mi-client-id",
    }
    assert env["MLFLOW_TRACKING_URI"] == mlflow_uri
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= env.keys()
    assert_round_trips(job, tmp_path)

    # The job's log lines arrived through the blob message reader, with the row count it read from abfss://.
    rows = known_rows(features_parquet)
    messages = _messages(instance, result.run_id)
    assert f"lgbm: {rows} rows with a known DART from {STORAGE}hourly_features.parquet" in messages
    assert f"[pipes] Azure ML job {job.name} observed state transition to Completed" in messages

    # The reported materialization matches what the job logged to MLflow and wrote to the lake.
    (materialization,) = result.asset_materializations_for_node("lgbm_model")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    run = mlflow.MlflowClient(mlflow_uri).get_run(meta["mlflow_run_id"])
    assert run.data.tags["dagster_run_id"] == result.run_id
    for name in ("val_rmse", "test_rmse", "test_mae", "test_mae_skill"):
        assert meta[name] == pytest.approx(run.data.metrics[name])
    assert int(run.data.params["n_train"]) + meta["n_val"] + meta["n_test"] == rows
    assert meta["model_files"] == output
    assert meta["azureml_job"] == ml_client.jobs.get(job.name).studio_url
    assert f"/runs/{job.name}?wsid=" in meta["azureml_job"]
    bundle = fake_account / "models" / "lgbm" / result.run_id / "bundle"
    assert sorted(p.name for p in bundle.iterdir()) == ["lgbm_p10.txt", "lgbm_p50.txt", "lgbm_p90.txt", "metadata.json"]
    # The Pipes context blob is removed after the run; only message chunks stay.
    assert not list(fake_account.glob("*/context.json"))


def test_transient_submit_error_retries_but_a_failed_job_does_not(fake_account, ml_client, no_pipes_grace, mlflow_uri):
    """No hourly_features in the lake: the job fails; one connection error before it is retried by the policy."""
    ml_client.submit_errors.append(ServiceRequestError("connection reset by peer"))
    instance = dg.DagsterInstance.ephemeral()
    retry_fast = dg.RetryPolicy(max_retries=TRAINING_RETRY_POLICY.max_retries, delay=0)
    job_def = dg.Definitions(
        assets=[xgb_model],
        resources=_resources(mlflow_uri),
        jobs=[dg.define_asset_job("train", [xgb_model], op_retry_policy=retry_fast)],
    ).resolve_job_def("train")

    result = job_def.execute_in_process(
        instance=instance, raise_on_error=False, run_config={"ops": {"xgb_model": {"config": {"num_boost_round": 5}}}}
    )

    assert not result.success
    assert ml_client.submit_attempts == 2 and len(ml_client.submitted) == 1
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retries) == 1
    (job,) = ml_client.submitted
    studio = ml_client.jobs.get(job.name).studio_url
    assert f"Azure ML job {job.name} ended Failed; logs: {studio}" in _step_failure(result)
    # The trainer's own error came back through Pipes before the job ended.
    (closed,) = [
        e.dagster_event
        for e in instance.all_logs(result.run_id)
        if e.is_dagster_event and e.dagster_event.message == "[pipes] external process pipes closed with exception"
    ]
    error = closed.engine_event_data.error
    assert error.cls_name == "FileNotFoundError" and "hourly_features.parquet" in error.message


def test_cancelled_run_cancels_the_gpu_job(fake_account, ml_client, no_pipes_grace, mlflow_uri):
    """SIGINT is what a Dagster step process gets when its run is terminated."""
    instance = dg.DagsterInstance.ephemeral()

    def interrupt_once_running():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(r.process.poll() is None for r in ml_client.runs.values()):
            time.sleep(0.05)
        time.sleep(0.5)  # inside the client's polling loop by then
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    result = dg.materialize([lstm_model], resources=_resources(mlflow_uri), instance=instance, raise_on_error=False)

    (job,) = ml_client.submitted
    assert (job.compute, job.environment) == ("gpu-cluster", "azureml:dart-assets-gpu@latest")
    assert "--family lstm" in job.command
    assert ml_client.runs[job.name].process.returncode == -signal.SIGKILL
    assert ml_client.jobs.get(job.name).status == "Canceled"
    assert not result.success
    assert f"Azure ML job {job.name} ended Canceled" in _step_failure(result)
    assert "[pipes] execution interrupted, canceling Azure ML job." in _messages(instance, result.run_id)

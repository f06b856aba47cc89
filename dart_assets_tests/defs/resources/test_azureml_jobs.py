"""Training assets as Azure ML jobs, end to end: the real assets, launcher, PipesAzureMLClient, blob injector and
reader, and the real trainer entry point in the job; only MLClient and the storage account are local fakes."""

from __future__ import annotations

import json
import os
import shlex
import signal
import threading
import time

import dagster as dg
import mlflow
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
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


def _resources(mlflow_uri: str, **config) -> dict:
    workspace = AzureMLSettings(
        subscription_id=SUBSCRIPTION,
        resource_group=GROUP,
        workspace=WORKSPACE,
        pipes_account_url=BLOB_URL,
        pipes_container=CONTAINER,
        identity_client_id="mi-client-id",
    )
    config = AzureMLConfig.from_settings(workspace, **{"poll_interval_seconds": 0.5, **config})
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
    seeds = [f"lgbm_{q}{suffix}.txt" for q in ("p10", "p50", "p90") for suffix in ("", "_seed1", "_seed2")]
    assert sorted(p.name for p in bundle.iterdir()) == sorted([*seeds, "metadata.json"])  # three seeds by default
    # The Pipes context blob is removed after the run; only message chunks stay.
    assert not list(fake_account.glob("*/context.json"))


def _train(asset, mlflow_uri: str, instance, **config):
    """`asset` under a no-delay copy of the training retry policy."""
    job_def = dg.Definitions(
        assets=[asset],
        resources=_resources(mlflow_uri, **config),
        jobs=[dg.define_asset_job("train", [asset])],
    ).resolve_job_def("train")
    name = asset.key.to_user_string()
    return job_def.execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {name: {"config": {"num_boost_round": 5}}}},
    )


@pytest.fixture
def fast_retries(monkeypatch):
    """The production training assets, their RetryPolicy without its 30 s backoff."""
    from dart_assets.defs.dart import training
    from dart_assets.ml.families import FAMILIES

    policy = dg.RetryPolicy(max_retries=TRAINING_RETRY_POLICY.max_retries)
    monkeypatch.setattr(training, "TRAINING_RETRY_POLICY", policy)
    return {name: training.build_model_asset(family, "azureml") for name, family in FAMILIES.items()}


def _retries(result) -> int:
    return sum(e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY for e in result.all_events)


def test_a_transient_submit_error_is_retried_in_the_attempt_but_a_failed_job_is_not(
    fake_account, ml_client, no_pipes_grace, mlflow_uri, fast_retries
):
    """No hourly_features in the lake: the job fails; one connection error before it is retried by the launcher."""
    ml_client.submit_errors.append(ServiceRequestError("connection reset by peer"))
    instance = dg.DagsterInstance.ephemeral()

    result = _train(fast_retries["xgb"], mlflow_uri, instance)

    assert not result.success
    assert ml_client.submit_attempts == 2 and len(ml_client.submitted) == 1
    assert _retries(result) == 0  # neither the connection error nor the failed job cost a step retry
    (job,) = ml_client.submitted
    studio = ml_client.jobs.get(job.name).studio_url
    assert f"Azure ML job {job.name} ended Failed; logs: {studio}" in _step_failure(result)
    assert any(
        m.startswith(f"submitting Azure ML job {job.name}: transient Azure error (ServiceRequestError")
        for m in _messages(instance, result.run_id)
    )
    # The trainer's own error came back through Pipes before the job ended.
    (closed,) = [
        e.dagster_event
        for e in instance.all_logs(result.run_id)
        if e.is_dagster_event and e.dagster_event.message == "[pipes] external process pipes closed with exception"
    ]
    error = closed.engine_event_data.error
    assert error.cls_name == "FileNotFoundError" and "hourly_features.parquet" in error.message


def _http_error(status: int) -> HttpResponseError:
    error = HttpResponseError(message=f"HTTP {status}")
    error.status_code = status
    return error


def test_transient_errors_while_polling_keep_polling_the_same_job(
    fake_account, ml_client, features_parquet, mlflow_uri, fast_retries
):
    (fake_account / "hourly_features.parquet").write_bytes(features_parquet)
    ml_client.poll_errors += [ServiceResponseError("read timed out"), _http_error(503), _http_error(429)]
    instance = dg.DagsterInstance.ephemeral()

    result = _train(fast_retries["lgbm"], mlflow_uri, instance)

    (job,) = ml_client.submitted
    assert result.success, ml_client.output(job.name)
    assert ml_client.submit_attempts == 1 and ml_client.poll_errors == [] and _retries(result) == 0
    warnings = [m for m in _messages(instance, result.run_id) if "transient Azure error" in m]
    assert len(warnings) == 3 and all(m.startswith(f"polling Azure ML job {job.name}:") for m in warnings)
    (materialization,) = result.asset_materializations_for_node("lgbm_model")
    run_id = materialization.metadata["mlflow_run_id"].value
    assert mlflow.MlflowClient(mlflow_uri).get_run(run_id).data.tags["dagster_run_id"] == result.run_id


def test_a_submission_that_errs_after_creating_the_job_follows_it(
    fake_account, ml_client, features_parquet, mlflow_uri, fast_retries
):
    (fake_account / "hourly_features.parquet").write_bytes(features_parquet)
    ml_client.errors_after_create.append(ServiceResponseError("read timed out"))
    instance = dg.DagsterInstance.ephemeral()

    result = _train(fast_retries["lgbm"], mlflow_uri, instance)

    (job,) = ml_client.submitted
    assert result.success, ml_client.output(job.name)
    assert ml_client.submit_attempts == 1 and _retries(result) == 0
    assert (
        f"Azure ML job {job.name} was created by a submission that reported an error: following it, not "
        "submitting a second job" in _messages(instance, result.run_id)
    )
    # Its Pipes messages still reach the run: the job belongs to this attempt's Pipes session.
    assert result.asset_materializations_for_node("lgbm_model")[0].metadata["mlflow_run_id"].value


def test_a_retried_step_follows_the_job_its_earlier_attempt_submitted(
    fake_account, ml_client, features_parquet, mlflow_uri, fast_retries, no_pipes_grace
):
    """Azure answers nothing but errors for longer than the launcher's patience: the attempt fails, the step is
    retried, and the retry finds the job by its name and waits for it instead of paying for a second one."""
    (fake_account / "hourly_features.parquet").write_bytes(features_parquet)
    ml_client.poll_errors += [ServiceRequestError("network unreachable")] * 4
    instance = dg.DagsterInstance.ephemeral()

    result = _train(fast_retries["lgbm"], mlflow_uri, instance, transient_patience_seconds=1.0)

    (job,) = ml_client.submitted
    assert result.success, ml_client.output(job.name)
    assert ml_client.submit_attempts == 1 and _retries(result) == 1
    messages = _messages(instance, result.run_id)
    assert any(
        m.startswith(f"Azure ML job {job.name} was submitted by an earlier attempt of this step") for m in messages
    )
    # The summary came from the job's output folder, and it is the job's MLflow run.
    (materialization,) = result.asset_materializations_for_node("lgbm_model")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    summary = json.loads((fake_account / "models" / "lgbm" / result.run_id / "summary.json").read_text())
    assert meta["mlflow_run_id"] == summary["mlflow_run_id"]
    assert meta["azureml_job"] == ml_client.jobs.get(job.name).studio_url
    assert (
        len(
            mlflow.MlflowClient(mlflow_uri).search_runs(
                [mlflow.MlflowClient(mlflow_uri).get_experiment_by_name("dart-test").experiment_id],
                f"tags.dagster_run_id = '{result.run_id}'",
            )
        )
        == 1
    )


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

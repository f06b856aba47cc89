"""The Azure ML config the settings give the launcher, and command jobs that the real azure-ai-ml SDK accepts."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError, ServiceResponseError

from dart_assets.defs import build_defs
from dart_assets.defs.resources.azureml import REPO_ROOT, AzureMLConfig, build_command_job, is_transient, job_name
from dart_assets.defs.resources.training_launcher import TrainingLauncher
from dart_assets.settings import AzureMLSettings, load_settings
from dart_assets_tests.fakes.azure_fixtures import BLOB_URL, CONTAINER, STORAGE, assert_round_trips


def test_config_comes_from_the_settings():
    settings = load_settings(
        {
            "DART_EXECUTION": "azureml",
            "DART_STORAGE": STORAGE,
            "AZURE_SUBSCRIPTION_ID": "0000-sub",
            "AZURE_RESOURCE_GROUP": "rg-dart-assets",
            "AZUREML_WORKSPACE": "mlw-dart",
            "AZUREML_GPU_CLUSTER": "gpu-a100",
        }
    )
    launcher = build_defs(settings).resources["launcher"]
    config = launcher.azureml
    assert launcher.mode == "azureml" and launcher.storage == STORAGE
    assert (config.subscription_id, config.resource_group, config.workspace) == (
        "0000-sub",
        "rg-dart-assets",
        "mlw-dart",
    )
    assert (config.cluster("cpu"), config.cluster("gpu")) == ("cpu-cluster", "gpu-a100")
    assert (config.environment("cpu"), config.environment("gpu")) == (
        "azureml:dart-assets-cpu@latest",
        "azureml:dart-assets-gpu@latest",
    )
    assert (config.pipes_account_url, config.pipes_container) == (BLOB_URL, CONTAINER)
    assert config.identity_client_id is None and config.n_threads == 4


@pytest.mark.parametrize(("compute", "family"), [("cpu", "xgb"), ("gpu", "lstm")])
def test_command_job_serialises_and_round_trips(compute, family, tmp_path):
    config = AzureMLConfig.from_settings(
        AzureMLSettings(
            subscription_id="s",
            resource_group="g",
            workspace="w",
            pipes_account_url=BLOB_URL,
            pipes_container=CONTAINER,
            identity_client_id="mi-client-id",
        )
    )
    params = {"learning_rate": 0.03, "objective": "reg:absoluteerror"}
    argv = TrainingLauncher(mode="azureml", storage=STORAGE, azureml=config).command(family, params, 7, "run-1234", 4)
    env = {
        "MLFLOW_TRACKING_URI": "azureml://southcentralus.api.azureml.ms/mlflow/v1.0/x",
        "MLFLOW_EXPERIMENT_NAME": "dart-spread-forecaster",
    }

    job = build_command_job(
        config,
        compute=compute,
        argv=argv,
        env=env,
        name=job_name(family, "run-1234"),
        display_name=f"train-{family}",
        experiment_name="dart-spread-forecaster",
        tags={"a": "b"},
    )

    assert job.compute == {"cpu": "cpu-cluster", "gpu": "gpu-cluster"}[compute]
    assert job.environment == f"azureml:dart-assets-{compute}@latest"
    assert job.code == str(REPO_ROOT) and (REPO_ROOT / "dart_assets" / "entrypoints" / "train.py").is_file()
    words = shlex.split(job.command)
    assert words[:3] == ["python", "-m", "dart_assets.entrypoints.train"]
    assert json.loads(words[words.index("--params") + 1]) == params  # the JSON survives the shell
    assert job.environment_variables == {
        **env,
        "DART_PIPES_TRANSPORT": "azure-blob",
        "DART_PIPES_BLOB_ACCOUNT_URL": BLOB_URL,
        "AZURE_CLIENT_ID": "mi-client-id",
    }
    assert_round_trips(job, tmp_path)


def test_job_names_are_one_per_run_and_step_and_valid_for_azure_ml():
    """A retried step finds its earlier job by name: the name must not change between attempts."""
    run = "0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b"  # a Dagster run id
    assert job_name("lstm", run) == job_name("lstm", run) == f"dart-lstm-{run}"
    assert len({job_name(family, run) for family in ("lgbm", "xgb", "lstm")}) == 3
    assert job_name("lstm", run) != job_name("lstm", "1f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b")
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,254}", job_name("lstm", run))  # letters, digits and dashes; <= 255


def _http_error(status: int) -> HttpResponseError:
    error = HttpResponseError(message=f"HTTP {status}")
    error.status_code = status
    return error


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ServiceRequestError("connection reset"), True),
        (ServiceResponseError("read timed out"), True),
        (_http_error(429), True),
        (_http_error(503), True),
        (_http_error(400), False),  # e.g. an unknown environment: the same spec fails again
        (_http_error(403), False),
        (ResourceNotFoundError("compute cpu-cluster not found"), False),
        (ValueError("bad"), False),
    ],
)
def test_only_network_throttling_and_server_errors_are_transient(error, transient):
    assert is_transient(error) is transient

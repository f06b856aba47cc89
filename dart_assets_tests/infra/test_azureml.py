"""infra/azureml: every YAML loads with the azure-ai-ml SDK (offline) and says what the trainers need."""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from .conftest import AZUREML, REPO, Terraform

with warnings.catch_warnings():  # the SDK's marshmallow schemas warn by the hundred on import
    warnings.simplefilter("ignore")
    from azure.ai.ml import load_environment, load_job
    from azure.ai.ml.entities import Command, Environment, PipelineJob


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

JOBS = {  # file -> (family, compute, environment)
    "train-lgbm.yml": ("lgbm", "cpu-cluster", "dart-assets-cpu"),
    "train-xgb.yml": ("xgb", "cpu-cluster", "dart-assets-cpu"),
    "train-lstm.yml": ("lstm", "gpu-cluster", "dart-assets-gpu"),
}
ENVIRONMENTS = {
    "environment.yml": ("dart-assets-cpu", "conda.yml"),
    "environment-gpu.yml": ("dart-assets-gpu", "conda-gpu.yml"),
}
CONDA_FILES = {"conda.yml", "conda-gpu.yml"}
EXPERIMENT = "dart-spread-forecaster"
# Runtime dependencies a training node does not need: the UI, gridstatus (the ercot_api source downloads in the
# Dagster process; a node trains on features it is handed), and the Dagster instance's PostgreSQL storage and driver
# (a node never opens the instance; it logs to the MLflow server over https).
NOT_ON_NODES = {"dagster-webserver", "gridstatus", "dagster-postgres", "psycopg2-binary"}


def yaml_files() -> list[str]:
    return sorted(p.name for p in AZUREML.glob("*.yml")) + sorted(p.name for p in AZUREML.glob("*.yaml"))


def test_the_folder_holds_exactly_the_expected_files() -> None:
    assert set(yaml_files()) == set(JOBS) | set(ENVIRONMENTS) | CONDA_FILES | {"pipeline-train.yml"}


@pytest.mark.parametrize("name", yaml_files())
def test_every_yaml_loads(name: str) -> None:
    path = AZUREML / name
    raw = yaml.safe_load(path.read_text())
    if name in CONDA_FILES:
        assert raw["dependencies"], name  # a conda file, referenced by an environment
    elif name in ENVIRONMENTS:
        assert "environment.schema.json" in raw["$schema"]
        assert isinstance(load_environment(path), Environment)
    else:
        assert raw["$schema"].endswith(("commandJob.schema.json", "pipelineJob.schema.json"))
        job = load_job(path)
        assert isinstance(job, (Command, PipelineJob))
        result = job._validate(raise_error=False)  # the SDK's own client-side validation, no workspace needed
        assert result.passed, result.error_messages


# --- environments -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_environments_use_public_base_images_and_conda_files(name: str) -> None:
    env_name, conda_file = ENVIRONMENTS[name]
    env = load_environment(AZUREML / name)
    assert env.name == env_name
    assert env.image.startswith("mcr.microsoft.com/azureml/")
    assert ("cuda" in env.image) == (env_name.endswith("gpu"))
    conda = yaml.safe_load((AZUREML / conda_file).read_text())
    assert env.conda_file == conda


def pip_pins(conda_file: str) -> dict[str, str]:
    conda = yaml.safe_load((AZUREML / conda_file).read_text())
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {}
    for line in pip:
        if line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        assert version, f"{conda_file}: {line} is not pinned with =="
        pins[name.lower()] = version
    return pins


def project_dependencies() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


@pytest.mark.parametrize("conda_file", sorted(CONDA_FILES))
def test_conda_pins_satisfy_the_project_dependencies(conda_file: str) -> None:
    pins = pip_pins(conda_file)
    for req in project_dependencies():
        if req.name in NOT_ON_NODES:
            continue
        assert req.name.lower() in pins, f"{conda_file} lacks {req.name}"
        assert req.specifier.contains(pins[req.name.lower()], prereleases=True), (
            f"{conda_file}: {req.name}=={pins[req.name.lower()]} outside {req.specifier}"
        )
    conda = yaml.safe_load((AZUREML / conda_file).read_text())
    python = next(d for d in conda["dependencies"] if isinstance(d, str) and d.startswith("python="))
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(python.split("=")[1] + ".0")


def test_both_environments_pin_the_same_versions_but_different_torch_builds() -> None:
    cpu, gpu = pip_pins("conda.yml"), pip_pins("conda-gpu.yml")
    assert set(cpu) == set(gpu)
    assert {k for k in cpu if cpu[k] != gpu[k]} == {"torch"}
    assert cpu["torch"] == gpu["torch"] + "+cpu"
    assert "whl/cpu" in (AZUREML / "conda.yml").read_text()
    assert "whl/cpu" not in (AZUREML / "conda-gpu.yml").read_text()


# --- command jobs -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(JOBS))
def test_command_jobs(name: str) -> None:
    family, compute, environment = JOBS[name]
    job = load_job(AZUREML / name)
    assert isinstance(job, Command)
    assert job.compute == compute
    assert job.command.split() == [
        "python",
        "-m",
        "dart_assets.entrypoints.train",
        "--family",
        family,
        "--features",
        "${{inputs.features}}",
        "--output",
        "${{outputs.model}}",
    ]
    assert job.inputs["features"].type == "uri_file"
    assert job.outputs["model"].type == "uri_folder"
    assert set(job.inputs) == {"features"} and set(job.outputs) == {"model"}
    assert job.environment == f"{environment}@latest"
    assert job.experiment_name == EXPERIMENT
    assert job.display_name == f"train-{family}"
    assert job.environment_variables["MLFLOW_EXPERIMENT_NAME"] == EXPERIMENT
    assert (Path(job.base_path) / job.code).resolve() == REPO
    raw = yaml.safe_load((AZUREML / name).read_text())
    assert raw["compute"] == f"azureml:{compute}"
    assert raw["environment"] == f"azureml:{environment}@latest"
    assert raw["identity"] == {"type": "managed"}


def test_pipeline_runs_the_three_trainers_in_parallel() -> None:
    pipeline = load_job(AZUREML / "pipeline-train.yml")
    assert isinstance(pipeline, PipelineJob)
    assert pipeline.experiment_name == EXPERIMENT
    assert pipeline.settings.continue_on_step_failure is True
    assert set(pipeline.jobs) == {f"train_{family}" for family, _, _ in JOBS.values()}
    raw = yaml.safe_load((AZUREML / "pipeline-train.yml").read_text())
    assert raw["inputs"]["features"]["type"] == "uri_file"
    for family, compute, environment in JOBS.values():
        step = pipeline.jobs[f"train_{family}"]
        raw_step = raw["jobs"][f"train_{family}"]
        assert step.compute == compute
        assert f"--family {family}" in step.command
        # Parallel: every step reads only the pipeline's input, never another step's output.
        assert raw_step["inputs"] == {"features": "${{parent.inputs.features}}"}
        assert raw_step["outputs"] == {"model": f"${{{{parent.outputs.{family}_model}}}}"}
        assert raw_step["environment"] == f"azureml:{environment}@latest"
        assert raw_step["environment_variables"]["MLFLOW_EXPERIMENT_NAME"] == EXPERIMENT
        assert (AZUREML / raw_step["code"]).resolve() == REPO
        single = load_job(AZUREML / f"train-{family}.yml")
        assert step.command == single.command


def test_job_inputs_use_the_datastore_terraform_registers(tf: Terraform) -> None:
    datastore = tf.resource("azurerm_machine_learning_datastore_datalake_gen2", "assets")["name"]
    for name in [*JOBS, "pipeline-train.yml"]:
        raw = yaml.safe_load((AZUREML / name).read_text())
        assert raw["inputs"]["features"]["path"].startswith(f"azureml://datastores/{datastore}/paths/")


def test_cluster_names_match_the_terraform_defaults(tf: Terraform) -> None:
    clusters = {tf.variable_default("cpu_cluster_name"), tf.variable_default("gpu_cluster_name")}
    assert {compute for _, compute, _ in JOBS.values()} == clusters
    env = tf.locals["azure_env"]  # the project_env output and the hosted code location's settings
    assert env["AZUREML_ENVIRONMENT"] == "azureml:dart-assets-cpu@latest"
    assert env["AZUREML_GPU_ENVIRONMENT"] == "azureml:dart-assets-gpu@latest"

"""deploy/: the instance files validate against the installed Dagster, the Azure variant differs only where it must,
and the compose file, the Dockerfile and the workspace agree with each other and with pyproject.toml. Fast and
offline; test_production_instance.py runs the same files for real.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer
from dagster_postgres import DagsterPostgresStorage

from . import compose

DAGSTER_YAML = compose.DEPLOY / "dagster.yaml"
AZURE_DAGSTER_YAML = compose.DEPLOY / "azure" / "dagster.yaml"
PYPROJECT = tomllib.loads((compose.REPO / "pyproject.toml").read_text())
INSTANCE_ENV = {
    "DART_PG_HOST": "db.internal",
    "DART_PG_PORT": "5432",
    "DART_PG_USER": "dart",
    "DART_PG_PASSWORD": "not-a-real-password",
    "DAGSTER_COMPUTE_LOG_DIR": "/var/lib/dagster/compute_logs",
    "DAGSTER_COMPUTE_LOG_ACCOUNT": "dartassetsdl0f9a3c",
}
IMAGE_SERVICES = ("mlflow", "code-location", "daemon", "webserver")


def _instance(path: Path, monkeypatch, tmp_path) -> dict:
    """The instance config as Dagster reads it from $DAGSTER_HOME, env vars resolved, each class config checked."""
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / path.parent.name
    home.mkdir()
    (home / "dagster.yaml").symlink_to(path)
    config, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    for key in ("run_coordinator", "run_launcher", "compute_logs"):
        block = config[key]
        klass = class_from_code_pointer(block["module"], block["class"])
        result = process_config(klass.config_type(), block.get("config") or {})
        assert result.success, (key, result.errors)
        config = {**config, key: {**block, "resolved": result.value, "klass": klass.__name__}}
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    return {**config, "storage": {"postgres": storage.value}}


@pytest.fixture
def instance(monkeypatch, tmp_path) -> dict:
    return _instance(DAGSTER_YAML, monkeypatch, tmp_path)


def test_storage_is_postgres_with_credentials_from_the_environment(instance) -> None:
    db = instance["storage"]["postgres"]["postgres_db"]
    assert db["hostname"] == "db.internal" and db["port"] == 5432 and db["username"] == "dart"
    assert db["password"] == "not-a-real-password"
    assert db["db_name"] == "dagster"
    assert db["scheme"] == "postgresql+psycopg2"
    raw = yaml.safe_load(DAGSTER_YAML.read_text())["storage"]["postgres"]["postgres_db"]
    assert {raw[k]["env"] for k in ("hostname", "port", "username", "password")} == {
        "DART_PG_HOST",
        "DART_PG_PORT",
        "DART_PG_USER",
        "DART_PG_PASSWORD",
    }


def test_runs_are_queued_with_limits_and_gpu_steps_share_one_slot(instance) -> None:
    assert instance["run_coordinator"]["klass"] == "QueuedRunCoordinator"
    assert instance["run_launcher"]["klass"] == "DefaultRunLauncher"
    runs = instance["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] == 4
    assert runs["tag_concurrency_limits"] == [{"key": "dagster/backfill", "limit": 2}]
    assert instance["concurrency"]["pools"] == {"granularity": "op", "default_limit": 1}
    assert "`gpu`" in DAGSTER_YAML.read_text()  # the pool the LSTM step carries is named where the limit is set
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["schedules"]["use_threads"] is True
    assert instance["telemetry"]["enabled"] is False


def test_step_logs_go_to_the_folder_the_compose_file_shares(instance) -> None:
    assert instance["compute_logs"]["klass"] == "LocalComputeLogManager"
    assert instance["compute_logs"]["resolved"]["base_dir"] == INSTANCE_ENV["DAGSTER_COMPUTE_LOG_DIR"]
    services = compose.services({"DART_PG_PASSWORD": "x"})
    folder = services["code-location"]["environment"]["DAGSTER_COMPUTE_LOG_DIR"]
    for name in ("code-location", "webserver"):  # the runs write there, the webserver reads there
        assert any(v.endswith(f":{folder}") for v in services[name]["volumes"]), name


def test_the_azure_instance_differs_only_in_where_step_logs_go(monkeypatch, tmp_path) -> None:
    local = yaml.safe_load(DAGSTER_YAML.read_text())
    azure = yaml.safe_load(AZURE_DAGSTER_YAML.read_text())
    assert {k: v for k, v in local.items() if k != "compute_logs"} == {
        k: v for k, v in azure.items() if k != "compute_logs"
    }
    config = _instance(AZURE_DAGSTER_YAML, monkeypatch, tmp_path)
    logs = config["compute_logs"]
    assert logs["klass"] == "AzureBlobComputeLogManager"
    assert logs["resolved"]["storage_account"] == INSTANCE_ENV["DAGSTER_COMPUTE_LOG_ACCOUNT"]
    # The managed identity, never a key, SAS token or client secret.
    assert logs["resolved"]["default_azure_credential"] == {}
    assert not {"access_key_or_sas_token", "secret_credential"} & set(azure["compute_logs"]["config"])


def test_workspace_points_at_the_code_server_the_compose_file_starts() -> None:
    [entry] = yaml.safe_load((compose.DEPLOY / "workspace.yaml").read_text())["load_from"]
    grpc = entry["grpc_server"]
    assert grpc["host"] == {"env": "DAGSTER_CODE_SERVER_HOST"} and grpc["port"] == {"env": "DAGSTER_CODE_SERVER_PORT"}
    services = compose.services({"DART_PG_PASSWORD": "x"})
    code = services["code-location"]
    assert compose.with_options(code["command"], {})[:3] == ["dagster", "code-server", "start"]
    options = dict(zip(code["command"][3::2], code["command"][4::2], strict=True))
    assert options["-m"] == PYPROJECT["tool"]["dagster"]["module_name"]
    assert options["--location-name"] == grpc["location_name"] == PYPROJECT["tool"]["dagster"]["code_location_name"]
    assert code["environment"]["DAGSTER_CODE_SERVER_PORT"] == options["-p"]
    for name in ("daemon", "webserver"):
        assert services[name]["environment"]["DAGSTER_CODE_SERVER_HOST"] == "code-location"
        assert compose.with_options(services[name]["command"], {"-w": "deploy/workspace.yaml"})


def test_compose_keeps_secrets_out_and_the_uis_on_localhost() -> None:
    text = compose.COMPOSE_FILE.read_text()
    for line in text.splitlines():
        if re.search(r"PASSWORD:", line):
            assert "${DART_PG_PASSWORD:?" in line, line  # only ever from deploy/.env, required
    assert "deploy/.env" in (compose.REPO / ".gitignore").read_text().splitlines()
    services = compose.services({"DART_PG_PASSWORD": "x"})
    published = {name: s.get("ports", []) for name, s in services.items() if s.get("ports")}
    assert published == {
        "mlflow": ["${DART_BIND_ADDRESS:-127.0.0.1}:5000:5000"],
        "webserver": ["${DART_BIND_ADDRESS:-127.0.0.1}:3000:3000"],
    }
    mlflow = services["mlflow"]["command"]
    assert mlflow[:2] == ["mlflow", "server"] and "--serve-artifacts" in mlflow
    backend = urlsplit(mlflow[mlflow.index("--backend-store-uri") + 1])
    assert backend.scheme == "postgresql+psycopg2" and backend.username == "dart"
    assert backend.password is None  # libpq takes it from PGPASSWORD: never on a command line
    assert services["mlflow"]["environment"]["PGPASSWORD"] == "x"


def test_every_service_runs_the_one_image_as_the_dockerfile_builds_it() -> None:
    raw = yaml.safe_load(compose.COMPOSE_FILE.read_text())["services"]
    for name in IMAGE_SERVICES:
        assert raw[name]["image"] == "dart-assets:latest", name
        assert raw[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
    dockerfile = (compose.DEPLOY / "Dockerfile").read_text()
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.MULTILINE)
    assert yaml.safe_load(cmd) == compose.services({"DART_PG_PASSWORD": "x"})["code-location"]["command"]
    [user] = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert user.split(":")[0] not in {"0", "root"}
    torch_pin = next(d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch"))
    cpu_torch = dockerfile.index(f"pip install --index-url https://download.pytorch.org/whl/cpu {torch_pin}")
    project = dockerfile.index("RUN pip install -c requirements.lock .")  # the versions CI tested
    assert cpu_torch < project  # the CPU wheel is in place before the project
    assert "xgboost-cpu" in str(PYPROJECT["project"]["dependencies"])

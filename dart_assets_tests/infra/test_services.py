"""infra/terraform's hosted services (services.tf, postgres.tf) against deploy/: the Container Apps run the compose
file's commands, set every variable the instance and workspace files read, take the password only from the key
vault, stay inside the VNet; and no document or Terraform output names an `azureml://` MLflow tracking URI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dart_assets_tests.deploy import compose

from .conftest import REPO, Terraform

APPS = {  # Terraform container app (infra/terraform/services.tf, local.apps) -> compose service
    "mlflow": "mlflow",
    "dagster-code": "code-location",
    "dagster-daemon": "daemon",
    "dagster-webserver": "webserver",
}
DAGSTER_APPS = ("dagster-code", "dagster-daemon", "dagster-webserver")
# Options whose values are Azure's addresses instead of the compose network's.
AZURE_VALUES = {"--backend-store-uri", "--artifacts-destination"}
SERVICES_ID = "${azurerm_user_assigned_identity.services.id}"
PASSWORD_SECRET = "postgres-password"


def only(blocks: list[dict]) -> dict:
    assert len(blocks) == 1, blocks
    return blocks[0]


def app(tf: Terraform, name: str) -> dict:
    return tf.locals["apps"][name]


def local_keys(tf: Terraform, expression: str | dict) -> set[str]:
    """Keys of a map (or a map local), following merge(local.a, local.b, {K = ...}) through other locals."""
    if isinstance(expression, dict):
        return set(expression)
    name = re.fullmatch(r"\$\{local\.(\w+)\}", expression)
    value = tf.locals[name.group(1)] if name else expression
    if isinstance(value, dict):
        return set(value)
    keys = set(re.findall(r"[{,]\s*(\w+)\s*=", value))
    for ref in re.findall(r"local\.(\w+)", value):
        keys |= local_keys(tf, f"${{local.{ref}}}")
    return keys


def env_names(tf: Terraform, name: str) -> set[str]:
    return local_keys(tf, app(tf, name)["env"]) | {app(tf, name)["password_env"]}


def env_variables_read_by(path: Path) -> set[str]:
    """Every `{env: NAME}` in a Dagster YAML file."""
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(path.read_text()))
    return found


def test_one_resource_builds_the_four_apps_from_their_specs(tf: Terraform) -> None:
    """Identity, registry, password reference, ingress, probes and replicas are written once, for every app."""
    assert set(tf.locals["apps"]) == set(APPS)
    resource = tf.resource("azurerm_container_app", "service")
    assert resource["for_each"] == "${local.apps}" and resource["name"] == "${each.key}"
    assert only(resource["identity"]) == {"type": "UserAssigned", "identity_ids": [SERVICES_ID]}
    assert only(resource["registry"]) == {
        "server": "${azurerm_container_registry.this.login_server}",
        "identity": SERVICES_ID,
    }
    assert only(resource["secret"]) == {
        "name": PASSWORD_SECRET,
        "identity": SERVICES_ID,
        "key_vault_secret_id": "${azurerm_key_vault_secret.postgres_password.versionless_id}",
    }
    template = only(resource["template"])
    assert (template["min_replicas"], template["max_replicas"]) == (1, 1)  # one daemon, one code server
    body = only(template["container"])
    assert body["image"] == "${local.image}" and body["command"] == "${each.value.command}"
    # The only secret-valued variable is the password, from the key vault; every other one is a plain value.
    assert body["env"] == [{"name": "${each.value.password_env}", "secret_name": PASSWORD_SECRET}]
    [dynamic_env] = [d["env"] for d in body["dynamic"] if "env" in d]
    assert dynamic_env["for_each"] == "${each.value.env}" and "secret_name" not in only(dynamic_env["content"])
    [ingress] = [d["ingress"] for d in resource["dynamic"] if "ingress" in d]
    content = only(ingress["content"])
    assert content["allow_insecure_connections"] is False
    [rule] = [d["ip_security_restriction"] for d in content["dynamic"]]
    assert rule["for_each"] == "${ingress.value.ranges}" and only(rule["content"])["action"] == "Allow"
    policy = tf.resource("azurerm_key_vault_access_policy", "services")
    assert policy["secret_permissions"] == ["Get"] and "key_permissions" not in policy


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_app_runs_the_compose_command(tf: Terraform, name: str) -> None:
    """Same program, options and values as deploy/docker-compose.yml, except Azure's database and artifact URIs."""
    command = app(tf, name)["command"]
    expected = compose.services({"DART_PG_PASSWORD": "x"})[APPS[name]]["command"]
    replaced = {o: command[command.index(o) + 1] for o in AZURE_VALUES if o in expected}
    assert command == compose.with_options(expected, replaced)
    password = compose.services({"DART_PG_PASSWORD": "secret"})[APPS[name]]["environment"]
    assert app(tf, name)["password_env"] == next(k for k, v in password.items() if v == "secret")


@pytest.mark.parametrize("name", DAGSTER_APPS)
def test_dagster_apps_set_every_variable_their_files_read(tf: Terraform, name: str) -> None:
    names = env_names(tf, name)
    needed = env_variables_read_by(compose.DEPLOY / "azure" / "dagster.yaml")
    if name != "dagster-code":  # the webserver and the daemon load deploy/workspace.yaml
        needed |= env_variables_read_by(compose.DEPLOY / "workspace.yaml")
    assert needed <= names, needed - names
    assert tf.locals["dagster_env"]["DAGSTER_HOME"] == "/opt/dagster/home-azure"
    assert (
        "cp deploy/azure/dagster.yaml /opt/dagster/home-azure/dagster.yaml"
        in (compose.DEPLOY / "Dockerfile").read_text()
    )
    assert tf.locals["dagster_env"]["PGSSLMODE"] == "require"  # Flexible Server requires TLS


def test_the_code_location_trains_on_azure_ml_and_logs_to_the_mlflow_server(tf: Terraform) -> None:
    names = env_names(tf, "dagster-code")
    assert set(tf.locals["azure_env"]) | {"MLFLOW_UI_URL"} <= names
    assert tf.locals["azure_env"]["DART_EXECUTION"] == "azureml"
    assert tf.locals["azure_env"]["DART_STORAGE"].startswith("abfss://${azurerm_storage_container.assets.name}@")
    workspace_env = tf.locals["workspace_env"]  # merge(local.dagster_env, {...}): python-hcl2 keeps it as text
    # An app with TCP ingress is reached by its name and exposed port inside the environment.
    code = app(tf, "dagster-code")["ingress"]
    assert 'DAGSTER_CODE_SERVER_HOST = "dagster-code"' in workspace_env
    assert f'DAGSTER_CODE_SERVER_PORT = "{code["exposed_port"]}"' in workspace_env
    port = compose.services({"DART_PG_PASSWORD": "x"})["code-location"]["environment"]["DAGSTER_CODE_SERVER_PORT"]
    assert str(code["exposed_port"]) == port


def test_the_services_are_reachable_only_inside_the_vnet(tf: Terraform) -> None:
    environment = tf.resource("azurerm_container_app_environment", "this")
    assert environment["internal_load_balancer_enabled"] is True
    assert environment["infrastructure_subnet_id"] == "${azurerm_subnet.apps.id}"
    ingress = {name: app(tf, name)["ingress"] for name in APPS}
    assert ingress["dagster-daemon"] is None
    assert ingress["dagster-code"] == {
        "external": False,
        "transport": "tcp",
        "port": 4000,
        "exposed_port": 4000,
        "ranges": [],
    }
    assert ingress["mlflow"]["ranges"] == "${local.mlflow_ranges}"
    assert ingress["dagster-webserver"]["ranges"] == "${local.ui_ranges}"
    assert "var.compute_subnet_prefix" in tf.locals["mlflow_ranges"]  # the training jobs log to it
    postgres = tf.resource("azurerm_postgresql_flexible_server", "this")
    assert postgres["public_network_access_enabled"] is False
    assert postgres["delegated_subnet_id"] == "${azurerm_subnet.postgres.id}"
    rules = {r["name"]: r for r in tf.resource("azurerm_network_security_group", "postgres")["security_rule"]}
    assert rules["AllowPostgresFromContainerApps"]["source_address_prefix"] == "${var.apps_subnet_prefix}"
    assert rules["DenyOtherVnetInbound"]["access"] == "Deny"


def test_postgres_matches_the_tested_version_and_databases(tf: Terraform) -> None:
    raw = yaml.safe_load(compose.COMPOSE_FILE.read_text())["services"]["postgres"]
    major = re.match(r"postgres:(\d+)", raw["image"]).group(1)
    assert tf.resource("azurerm_postgresql_flexible_server", "this")["version"] == major
    databases = {body["name"] for body in tf.resources["azurerm_postgresql_flexible_server_database"].values()}
    instance_db = yaml.safe_load((compose.DEPLOY / "dagster.yaml").read_text())["storage"]["postgres"]
    assert databases == {instance_db["postgres_db"]["db_name"], "mlflow"}
    assert "CREATE DATABASE mlflow;" in (compose.DEPLOY / "postgres-init.sql").read_text()
    user = compose.services({"DART_PG_PASSWORD": "x"})["daemon"]["environment"]["DART_PG_USER"]
    assert tf.resource("azurerm_postgresql_flexible_server", "this")["administrator_login"] == user


def test_mlflow_keeps_its_artifacts_in_the_data_lake_and_serves_them(tf: Terraform) -> None:
    command = app(tf, "mlflow")["command"]
    assert "--serve-artifacts" in command
    destination = command[command.index("--artifacts-destination") + 1]
    assert destination.startswith("abfss://${azurerm_storage_container.mlflow_artifacts.name}@")
    assert tf.resource("azurerm_storage_container", "mlflow_artifacts")["storage_account_id"] == (
        "${azurerm_storage_account.datalake.id}"
    )
    backend = command[command.index("--backend-store-uri") + 1]
    assert backend.startswith("postgresql+psycopg2://${azurerm_postgresql_flexible_server.this.administrator_login}@")
    assert app(tf, "mlflow")["env"]["MLFLOW_SERVER_ALLOWED_HOSTS"] == "${local.mlflow_host}"
    compute_logs = yaml.safe_load((compose.DEPLOY / "azure" / "dagster.yaml").read_text())["compute_logs"]
    assert (
        compute_logs["config"]["container"] == tf.resource("azurerm_storage_container", "dagster_compute_logs")["name"]
    )


# --- no Azure ML MLflow URI anywhere ---------------------------------------------------------------------------------

# An azureml:// URI other than a datastore path: Azure ML's MLflow tracking URI, usable only with azureml-mlflow,
# which caps mlflow below the project's 3.17.
AZUREML_MLFLOW_URI = re.compile(r"azureml://(?!datastores/)[^\s`'\")\]]+")
DOCUMENT_SUFFIXES = {".md", ".tf", ".yml", ".yaml", ".toml", ".example", ".sql", ".py", ".sh"}
SKIPPED_DIRS = {".git", ".venv", ".venv-checkov", "test-artifacts", "build", "dart_assets_tests", "__pycache__"}


def documents() -> list[Path]:
    """Everything a user reads or runs: docs, configuration, infrastructure, CI, and the package's own messages."""
    found = []
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO)
        if set(relative.parts) & SKIPPED_DIRS or any(part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and (path.suffix in DOCUMENT_SUFFIXES or path.name in {"Dockerfile", "run"}):
            found.append(path)
    return found


def test_the_uri_pattern_tells_tracking_uris_from_datastores() -> None:
    tracking = "azureml://southcentralus.api.azureml.ms/mlflow/v1.0/subscriptions/0/resourceGroups/rg"
    assert AZUREML_MLFLOW_URI.search(f"export MLFLOW_TRACKING_URI={tracking}")
    assert AZUREML_MLFLOW_URI.search("the form `azureml://<region>.api.azureml.ms/mlflow/v1.0/<workspace id>`")
    assert not AZUREML_MLFLOW_URI.search("path: azureml://datastores/dart_assets/paths/hourly_features.parquet")
    assert not AZUREML_MLFLOW_URI.search("Azure ML's own MLflow (`azureml://` tracking URI) needs azureml-mlflow")


def test_no_document_names_an_azureml_mlflow_uri() -> None:
    paths = documents()
    assert REPO / "README.md" in paths and REPO / "infra" / "README.md" in paths and len(paths) > 40
    found = {
        f"{path.relative_to(REPO)}:{n}": match.group(0)
        for path in paths
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if (match := AZUREML_MLFLOW_URI.search(line))
    }
    assert not found


def test_no_terraform_output_is_an_azureml_uri(tf: Terraform) -> None:
    for name, output in tf.outputs.items():
        assert "azureml://" not in str(output["value"]), name
    assert "azureml://" not in str(tf.locals)

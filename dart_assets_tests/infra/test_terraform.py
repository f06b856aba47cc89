"""infra/terraform, read with python-hcl2: the security and cost properties the project relies on."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from .conftest import TERRAFORM, Terraform, parse_terraform

IDENTITY_ID = "${azurerm_user_assigned_identity.compute.id}"
IDENTITY_PRINCIPAL = "${azurerm_user_assigned_identity.compute.principal_id}"


def only(blocks: list[dict]) -> dict:
    assert len(blocks) == 1, blocks
    return blocks[0]


# --- provider and versions ---------------------------------------------------------------------------------------


def test_terraform_and_provider_versions_are_pinned(tf: Terraform) -> None:
    block = only(tf.terraform)
    assert block["required_version"] == ">= 1.6"
    providers = only(block["required_providers"])
    assert set(providers) == {"azurerm", "random"}
    assert providers["azurerm"]["source"] == "hashicorp/azurerm"
    assert "~> 4.0" in providers["azurerm"]["version"]
    assert providers["random"] == {"source": "hashicorp/random", "version": "~> 3.6"}


def test_provider_uses_entra_id_for_storage(tf: Terraform) -> None:
    provider = only(tf.providers)["azurerm"]
    assert provider["storage_use_azuread"] is True
    assert only(provider["features"])


# --- compute clusters ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "default"), [("cpu", "cpu-cluster"), ("gpu", "gpu-cluster")])
def test_clusters_scale_to_zero_with_named_variables(tf: Terraform, name: str, default: str) -> None:
    cluster = tf.resource("azurerm_machine_learning_compute_cluster", name)
    assert cluster["name"] == f"${{var.{name}_cluster_name}}"
    assert tf.variable_default(f"{name}_cluster_name") == default
    scale = only(cluster["scale_settings"])
    assert scale["min_node_count"] == 0
    assert scale["max_node_count"] == f"${{var.{name}_max_nodes}}"
    assert scale["scale_down_nodes_after_idle_duration"] == "PT${var.idle_scale_down_seconds}S"
    assert cluster["vm_size"] == f"${{var.{name}_vm_size}}"
    assert f"var.{name}_low_priority" in cluster["vm_priority"]
    assert "LowPriority" in cluster["vm_priority"] and "Dedicated" in cluster["vm_priority"]
    assert tf.variable_default(f"{name}_low_priority") is False
    assert cluster["local_auth_enabled"] is False
    assert cluster["ssh_public_access_enabled"] is False


@pytest.mark.parametrize("name", ["cpu", "gpu"])
def test_identity_is_attached_to_both_clusters(tf: Terraform, name: str) -> None:
    identity = only(tf.resource("azurerm_machine_learning_compute_cluster", name)["identity"])
    assert identity["type"] == "UserAssigned"
    assert identity["identity_ids"] == [IDENTITY_ID]
    tf.resource("azurerm_user_assigned_identity", "compute")


def test_gpu_default_is_nc_family_and_validated(tf: Terraform) -> None:
    assert tf.variable_default("gpu_vm_size") == "Standard_NC4as_T4_v3"
    validation = only(tf.variables["gpu_vm_size"]["validation"])
    assert "Standard_NC" in validation["condition"]
    assert tf.variable_default("gpu_max_nodes") >= 1
    assert tf.variable_default("cpu_max_nodes") >= 1
    assert tf.variable_default("idle_scale_down_seconds") >= 60


# --- least-privilege role assignments -----------------------------------------------------------------------------

EXPECTED_COMPUTE_ROLES = {
    "Storage Blob Data Contributor": "${azurerm_storage_account.datalake.id}",
    "AzureML Data Scientist": "${azurerm_machine_learning_workspace.this.id}",
    "AcrPull": "${azurerm_container_registry.this.id}",
}


@pytest.mark.parametrize("identity", ["compute", "services"])
def test_each_identity_has_exactly_the_scoped_roles(tf: Terraform, identity: str) -> None:
    """The clusters and the hosted services (which submit the same jobs and touch the same data) need the same three
    roles, each on one resource."""
    principal = f"${{azurerm_user_assigned_identity.{identity}.principal_id}}"
    assignments = tf.resources["azurerm_role_assignment"]
    granted = {a["role_definition_name"]: a["scope"] for a in assignments.values() if a["principal_id"] == principal}
    assert granted == EXPECTED_COMPUTE_ROLES


def test_no_role_assignment_is_broader_than_one_resource(tf: Terraform) -> None:
    allowed_scopes = set(EXPECTED_COMPUTE_ROLES.values())
    for name, assignment in tf.resources["azurerm_role_assignment"].items():
        assert assignment["scope"] in allowed_scopes, f"{name}: scope {assignment['scope']}"
        assert "subscription" not in assignment["scope"].lower(), name
        assert "resource_group" not in assignment["scope"], name
        assert assignment["role_definition_name"] in EXPECTED_COMPUTE_ROLES, name
        assert assignment["role_definition_name"] not in {"Owner", "Contributor", "User Access Administrator"}


def test_people_get_data_roles_only_on_the_lake_and_workspace(tf: Terraform) -> None:
    people = {n: a for n, a in tf.resources["azurerm_role_assignment"].items() if n.startswith("people_")}
    assert {a["role_definition_name"] for a in people.values()} == {
        "Storage Blob Data Contributor",
        "AzureML Data Scientist",
    }
    assert tf.variable_default("data_scientist_principal_ids") == []


# --- storage --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "subnets"),
    [
        # The hosted services (Container Apps) write assets, MLflow artifacts and step logs to the data lake only.
        ("datalake", ["${azurerm_subnet.compute.id}", "${azurerm_subnet.apps.id}"]),
        ("workspace", ["${azurerm_subnet.compute.id}"]),
    ],
)
def test_storage_accounts_have_secure_defaults(tf: Terraform, name: str, subnets: list[str]) -> None:
    account = tf.resource("azurerm_storage_account", name)
    assert account["min_tls_version"] == "TLS1_2"
    assert account["allow_nested_items_to_be_public"] is False
    assert account["https_traffic_only_enabled"] is True
    assert account["local_user_enabled"] is False
    assert account["cross_tenant_replication_enabled"] is False
    rules = only(account["network_rules"])
    assert rules["default_action"] == "Deny"
    assert "AzureServices" in rules["bypass"]
    assert rules["virtual_network_subnet_ids"] == subnets
    blob = only(account["blob_properties"])
    assert only(blob["delete_retention_policy"])["days"] == "${var.soft_delete_retention_days}"
    assert only(blob["container_delete_retention_policy"])["days"] == "${var.soft_delete_retention_days}"
    assert tf.variable_default("soft_delete_retention_days") >= 7
    assert only(account["sas_policy"])["expiration_period"]


def test_data_lake_is_adls_gen2_with_entra_only_access(tf: Terraform) -> None:
    lake = tf.resource("azurerm_storage_account", "datalake")
    assert lake["is_hns_enabled"] is True
    assert lake["shared_access_key_enabled"] is False
    assert lake["default_to_oauth_authentication"] is True


def test_workspace_storage_is_separate_and_not_hns(tf: Terraform) -> None:
    workspace = tf.resource("azurerm_machine_learning_workspace", "this")
    assert workspace["storage_account_id"] == "${azurerm_storage_account.workspace.id}"
    assert tf.resource("azurerm_storage_account", "workspace")["is_hns_enabled"] is False


def test_assets_container_is_private_on_the_data_lake(tf: Terraform) -> None:
    container = tf.resource("azurerm_storage_container", "assets")
    assert container["container_access_type"] == "private"
    assert container["storage_account_id"] == "${azurerm_storage_account.datalake.id}"
    assert container["name"] == "${var.assets_container_name}"
    assert tf.variable_default("assets_container_name") == "dart-assets"


def test_generated_names_fit_azure_naming_rules(tf: Terraform) -> None:
    """Worst case: the longest prefix the validation allows plus the 6-character md5 suffix."""
    assert '"^[a-z][a-z0-9]{2,11}$"' in only(tf.variables["name_prefix"]["validation"])["condition"]
    assert "substr(md5(" in tf.locals["suffix"] and ", 0, 6)" in tf.locals["suffix"]
    for prefix in ("abc", "a" * 12):

        def render(template: str, prefix: str = prefix) -> str:
            return template.replace("${var.name_prefix}", prefix).replace("${local.suffix}", "0f9a3c")

        for local, rule in [
            ("datalake_name", r"[a-z0-9]{3,24}"),
            ("workspace_storage_name", r"[a-z0-9]{3,24}"),
            ("key_vault_name", r"[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]"),
            ("registry_name", r"[a-zA-Z0-9]{5,50}"),
        ]:
            assert re.fullmatch(rule, render(tf.locals[local])), (local, render(tf.locals[local]))
    assert tf.locals["datalake_name"] != tf.locals["workspace_storage_name"]


# --- key vault, registry, workspace ----------------------------------------------------------------------------------


def test_key_vault_has_purge_protection_and_soft_delete(tf: Terraform) -> None:
    vault = tf.resource("azurerm_key_vault", "this")
    assert vault["purge_protection_enabled"] is True
    assert vault["soft_delete_retention_days"] == "${var.key_vault_soft_delete_days}"
    assert 7 <= tf.variable_default("key_vault_soft_delete_days") <= 90
    acls = only(vault["network_acls"])
    assert acls["default_action"] == "Deny"
    assert acls["bypass"] == "AzureServices"


def test_registry_admin_user_is_off(tf: Terraform) -> None:
    assert tf.resource("azurerm_container_registry", "this")["admin_enabled"] is False


def test_workspace_wires_the_dependent_resources(tf: Terraform) -> None:
    workspace = tf.resource("azurerm_machine_learning_workspace", "this")
    assert workspace["key_vault_id"] == "${azurerm_key_vault.this.id}"
    assert workspace["application_insights_id"] == "${azurerm_application_insights.this.id}"
    assert workspace["container_registry_id"] == "${azurerm_container_registry.this.id}"
    insights = tf.resource("azurerm_application_insights", "this")
    assert insights["workspace_id"] == "${azurerm_log_analytics_workspace.this.id}"
    assert workspace["image_build_compute_name"] == "${var.cpu_cluster_name}"


def test_diagnostics_flow_to_log_analytics(tf: Terraform) -> None:
    settings = tf.resources["azurerm_monitor_diagnostic_setting"]
    targets = {s["target_resource_id"] for s in settings.values()}
    assert "${azurerm_key_vault.this.id}" in targets
    assert "${azurerm_machine_learning_workspace.this.id}" in targets
    assert any("azurerm_storage_account.datalake.id" in t for t in targets)
    for setting in settings.values():
        assert setting["log_analytics_workspace_id"] == "${azurerm_log_analytics_workspace.this.id}"


# --- variables, references, outputs ----------------------------------------------------------------------------------


def test_every_variable_used_is_declared_and_every_declared_one_used(tf: Terraform) -> None:
    used = {m for text in tf.expressions() for m in re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", text)}
    declared = set(tf.variables)
    assert used - declared == set(), "used but not declared"
    assert declared - used == set(), "declared but never used"
    for name, body in tf.variables.items():
        assert body.get("description"), f"variable {name} has no description"
        assert "type" in body, f"variable {name} has no type"


def test_every_local_and_resource_reference_resolves(tf: Terraform) -> None:
    texts = tf.expressions()
    used_locals = {m for t in texts for m in re.findall(r"\blocal\.([A-Za-z_][A-Za-z0-9_]*)", t)}
    assert used_locals - set(tf.locals) == set()
    refs = {(t, n) for text in texts for t, n in re.findall(r"\b(azurerm_[a-z0-9_]+)\.([a-z0-9_]+)\b", text)}
    for rtype, name in refs:
        if rtype == "azurerm_client_config":  # data.azurerm_client_config, checked below
            continue
        assert name in tf.resources.get(rtype, {}), f"reference to undeclared {rtype}.{name}"
    data_refs = {(t, n) for text in texts for t, n in re.findall(r"\bdata\.([a-z0-9_]+)\.([a-z0-9_]+)", text)}
    for dtype, name in data_refs:
        assert name in tf.data.get(dtype, {}), f"reference to undeclared data.{dtype}.{name}"


EXPECTED_OUTPUTS = {
    "subscription_id",
    "resource_group",
    "workspace_name",
    "storage_account_name",
    "storage_container_name",
    "dart_storage_uri",
    "compute_identity_client_id",
    "cpu_cluster_name",
    "gpu_cluster_name",
    "mlflow_tracking_uri",
    "workspace_discovery_url",
    "project_env",
}


def test_outputs_present(tf: Terraform) -> None:
    assert set(tf.outputs) >= EXPECTED_OUTPUTS
    for name, body in tf.outputs.items():
        assert body.get("description"), f"output {name} has no description"
    assert tf.outputs["dart_storage_uri"]["value"] == (
        "abfss://${azurerm_storage_container.assets.name}@${azurerm_storage_account.datalake.name}"
        ".dfs.core.windows.net/"
    )
    assert tf.outputs["compute_identity_client_id"]["value"] == "${azurerm_user_assigned_identity.compute.client_id}"
    # The MLflow server this stack runs (services.tf), over https on the internal environment's domain.
    assert tf.outputs["mlflow_tracking_uri"]["value"] == "${local.mlflow_url}"
    assert tf.locals["mlflow_url"] == "https://${local.mlflow_host}"
    assert tf.locals["mlflow_host"] == "mlflow.${azurerm_container_app_environment.this.default_domain}"


def test_project_env_output_names_every_setting(tf: Terraform) -> None:
    """`project_env` is the hosted code location's own Azure settings (one definition, services.tf)."""
    assert tf.outputs["project_env"]["value"] == "${local.azure_env}"
    assert "local.azure_env" in tf.locals["code_location_env"]
    env = tf.locals["azure_env"]
    assert set(env) == {
        "DART_EXECUTION",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_RESOURCE_GROUP",
        "AZUREML_WORKSPACE",
        "AZUREML_CPU_CLUSTER",
        "AZUREML_GPU_CLUSTER",
        "AZUREML_ENVIRONMENT",
        "DART_STORAGE",
        "MLFLOW_TRACKING_URI",
        "AZUREML_GPU_ENVIRONMENT",
        "AZUREML_COMPUTE_CLIENT_ID",
    }
    # The variables the settings read in Azure ML mode (dart_assets/settings.py) are the ones this output sets.
    from dart_assets.settings import AZUREML_ENV_VARS

    assert {"AZUREML_ENVIRONMENT", "AZUREML_GPU_ENVIRONMENT", "AZUREML_COMPUTE_CLIENT_ID"} <= set(
        AZUREML_ENV_VARS.values()
    )
    assert env["DART_EXECUTION"] == "azureml"
    assert env["DART_STORAGE"] == tf.outputs["dart_storage_uri"]["value"]
    assert env["MLFLOW_TRACKING_URI"] == tf.outputs["mlflow_tracking_uri"]["value"] == "${local.mlflow_url}"


# --- checkov skips and secrets ------------------------------------------------------------------------------------


def test_every_checkov_skip_carries_a_written_reason() -> None:
    skips = 0
    for path in sorted(TERRAFORM.glob("*.tf")):
        for line in path.read_text().splitlines():
            if "checkov:skip" not in line:
                continue
            skips += 1
            match = re.fullmatch(r"\s*#checkov:skip=(CKV2?_AZURE_\d+):(.+)", line)
            assert match, f"{path.name}: malformed skip {line.strip()!r}"
            assert len(match.group(2).split()) >= 8, f"{path.name}: {match.group(1)} needs a real reason"
    assert skips > 0


def test_no_secrets_in_terraform(tf: Terraform) -> None:
    """No secret is written into the code: the one password is generated (random_password) and stored in the key vault;
    every secret-named attribute takes a reference, never a literal."""
    text = "\n".join(tf.text.values()).lower()
    for needle in ("client_secret", "access_key =", "sas_token", "connection_string ="):
        assert needle not in text, needle
    literal = re.compile(r"^\s*(?!\w*_(name|env)\b)\w*(password|secret|key)\w*\s*=\s*\"(?!\$\{)", re.MULTILINE)
    assert not literal.findall(text), [m.group(0) for m in literal.finditer(text)]
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text), "hard-coded GUID"
    assert tf.resource("random_password", "postgres")["special"] is False
    assert tf.resource("azurerm_postgresql_flexible_server", "this")["administrator_password"] == (
        "${random_password.postgres.result}"
    )
    assert tf.resource("azurerm_key_vault_secret", "postgres_password")["value"] == "${random_password.postgres.result}"
    for output in tf.outputs.values():  # `terraform output` never prints the password
        assert "random_password" not in str(output["value"]) and "key_vault_secret" not in str(output["value"])


def test_parser_sees_the_whole_folder() -> None:
    fresh = parse_terraform()
    assert len(fresh.text) >= 5
    assert sum(len(v) for v in fresh.resources.values()) >= 20


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary on PATH")
def test_terraform_files_are_formatted() -> None:
    """`terraform fmt` is offline (no provider download), so it runs wherever the binary is."""
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", str(TERRAFORM)],
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

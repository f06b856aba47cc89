# Shared lookups, names and the resource group.
#
# Files by concern:
#   network.tf    VNet; subnets + NSGs of the clusters, the Container Apps and PostgreSQL
#   storage.tf    ADLS Gen2 data lake (assets, MLflow artifacts, step logs) + the workspace's own storage
#   keyvault.tf   key vault
#   monitoring.tf Log Analytics, Application Insights, diagnostic settings
#   registry.tf   container registry
#   ml.tf         Azure ML workspace, cpu-cluster, gpu-cluster
#   identity.tf   user-assigned identities (clusters, hosted services) + role assignments
#   postgres.tf   PostgreSQL Flexible Server (Dagster's and MLflow's databases), its password in the key vault
#   services.tf   Container Apps: MLflow tracking server, Dagster code location, daemon and webserver
#   outputs.tf    what the project needs to point at this stack

data "azurerm_client_config" "current" {}

locals {
  subscription_id = data.azurerm_client_config.current.subscription_id
  tenant_id       = data.azurerm_client_config.current.tenant_id

  # Deterministic 6-character suffix for globally unique names: no random
  # provider, the same names on every plan for one subscription + group.
  suffix = substr(md5("${local.subscription_id}/${var.resource_group_name}"), 0, 6)

  datalake_name          = "${var.name_prefix}dl${local.suffix}" # <= 20 chars
  workspace_storage_name = "${var.name_prefix}ml${local.suffix}"
  key_vault_name         = "kv-${var.name_prefix}-${local.suffix}" # <= 23 chars
  registry_name          = "acr${var.name_prefix}${local.suffix}"
  workspace_name         = "mlw-${var.name_prefix}-${local.suffix}"
  postgres_name          = "psql-${var.name_prefix}-${local.suffix}"
  apps_environment_name  = "cae-${var.name_prefix}-${local.suffix}"

  # Known before the workspace exists, so the storage firewalls can let the
  # workspace in (resource instance rule) without a dependency cycle.
  workspace_id = "/subscriptions/${local.subscription_id}/resourceGroups/${var.resource_group_name}/providers/Microsoft.MachineLearningServices/workspaces/${local.workspace_name}"

  # Storage IP rules take plain addresses or /0-/30 ranges, not /31 or /32.
  storage_ip_rules = [for r in var.allowed_ip_ranges : trimsuffix(r, "/32")]
}

resource "azurerm_resource_group" "this" {
  name     = var.resource_group_name
  location = var.location
  tags     = var.tags
}

# One user-assigned identity shared by both clusters, with only what the
# trainers need, each scoped to a single resource (never the group or the
# subscription):
#   Storage Blob Data Contributor  -> the data lake account (read features, write models)
#   AzureML Data Scientist         -> the workspace (MLflow runs, models, jobs; no compute/workspace admin)
#   AcrPull                        -> the container registry (pull environment images)

resource "azurerm_user_assigned_identity" "compute" {
  name                = "id-${var.name_prefix}-compute"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_role_assignment" "compute_blob_data_contributor" {
  scope                = azurerm_storage_account.datalake.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.compute.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "compute_azureml_data_scientist" {
  scope                = azurerm_machine_learning_workspace.this.id
  role_definition_name = "AzureML Data Scientist"
  principal_id         = azurerm_user_assigned_identity.compute.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "compute_acr_pull" {
  scope                = azurerm_container_registry.this.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.compute.principal_id
  principal_type       = "ServicePrincipal"
}

# The people / CI principals that drive the project get the same two data
# roles, on the same single resources.

resource "azurerm_role_assignment" "people_blob_data_contributor" {
  for_each             = toset(var.data_scientist_principal_ids)
  scope                = azurerm_storage_account.datalake.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = each.value
}

resource "azurerm_role_assignment" "people_azureml_data_scientist" {
  for_each             = toset(var.data_scientist_principal_ids)
  scope                = azurerm_machine_learning_workspace.this.id
  role_definition_name = "AzureML Data Scientist"
  principal_id         = each.value
}

# The hosted services (Container Apps: MLflow server, Dagster code location, daemon, webserver) share one identity,
# with what they need, each on a single resource:
#   AcrPull                        -> the registry (pull the dart-assets image)
#   Storage Blob Data Contributor  -> the data lake (asset files, MLflow artifacts, Dagster step logs)
#   AzureML Data Scientist         -> the workspace (the code location submits the training jobs)
# and read access to the key vault's secrets (keyvault.tf). Containers pick it through AZURE_CLIENT_ID.

resource "azurerm_user_assigned_identity" "services" {
  name                = "id-${var.name_prefix}-services"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_role_assignment" "services_acr_pull" {
  scope                = azurerm_container_registry.this.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.services.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "services_blob_data_contributor" {
  scope                = azurerm_storage_account.datalake.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.services.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "services_azureml_data_scientist" {
  scope                = azurerm_machine_learning_workspace.this.id
  role_definition_name = "AzureML Data Scientist"
  principal_id         = azurerm_user_assigned_identity.services.principal_id
  principal_type       = "ServicePrincipal"
}

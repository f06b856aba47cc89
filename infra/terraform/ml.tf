resource "azurerm_machine_learning_workspace" "this" {
  #checkov:skip=CKV_AZURE_144:The workspace API must be reachable from developers' machines (local Dagster submits jobs, MLflow logs) without a VPN; every call still needs Entra ID + RBAC. Private link would need a VPN/ExpressRoute and private DNS.
  #checkov:skip=CKV2_AZURE_49:Same as CKV_AZURE_144: public network access is how developers' machines reach the workspace API; access is authenticated (Entra ID) and authorized (RBAC) on every call.
  name                    = local.workspace_name
  location                = azurerm_resource_group.this.location
  resource_group_name     = azurerm_resource_group.this.name
  application_insights_id = azurerm_application_insights.this.id
  key_vault_id            = azurerm_key_vault.this.id
  storage_account_id      = azurerm_storage_account.workspace.id
  container_registry_id   = azurerm_container_registry.this.id

  sku_name                      = "Basic"
  public_network_access_enabled = true
  v1_legacy_mode_enabled        = false
  # Not HBI: the workspace only sees public ERCOT market data and features
  # derived from it (HBI also cannot be changed after creation).
  high_business_impact = false
  # The workspace storage and key vault deny public traffic, so environment
  # images are built on the CPU cluster (inside the VNet), not on the shared
  # serverless build pool.
  image_build_compute_name = var.cpu_cluster_name

  identity {
    type = "SystemAssigned"
  }

  tags = var.tags
}

resource "azurerm_machine_learning_compute_cluster" "cpu" {
  name                          = var.cpu_cluster_name
  location                      = azurerm_resource_group.this.location
  machine_learning_workspace_id = azurerm_machine_learning_workspace.this.id
  description                   = "CPU trainers (LightGBM, XGBoost); scales to zero"
  vm_size                       = var.cpu_vm_size
  vm_priority                   = var.cpu_low_priority ? "LowPriority" : "Dedicated"
  subnet_resource_id            = azurerm_subnet.compute.id
  local_auth_enabled            = false
  ssh_public_access_enabled     = false

  scale_settings {
    min_node_count                       = 0
    max_node_count                       = var.cpu_max_nodes
    scale_down_nodes_after_idle_duration = "PT${var.idle_scale_down_seconds}S"
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.compute.id]
  }

  tags = var.tags

  depends_on = [azurerm_subnet_network_security_group_association.compute]
}

resource "azurerm_machine_learning_compute_cluster" "gpu" {
  name                          = var.gpu_cluster_name
  location                      = azurerm_resource_group.this.location
  machine_learning_workspace_id = azurerm_machine_learning_workspace.this.id
  description                   = "GPU trainer (PyTorch LSTM); scales to zero"
  vm_size                       = var.gpu_vm_size
  vm_priority                   = var.gpu_low_priority ? "LowPriority" : "Dedicated"
  subnet_resource_id            = azurerm_subnet.compute.id
  local_auth_enabled            = false
  ssh_public_access_enabled     = false

  scale_settings {
    min_node_count                       = 0
    max_node_count                       = var.gpu_max_nodes
    scale_down_nodes_after_idle_duration = "PT${var.idle_scale_down_seconds}S"
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.compute.id]
  }

  tags = var.tags

  depends_on = [azurerm_subnet_network_security_group_association.compute]
}

# The asset container as an identity-based Azure ML datastore (no stored
# credential): jobs address files as azureml://datastores/dart_assets/paths/...
# and read them with the identity of the job (the clusters' managed identity,
# or the submitting user).
resource "azurerm_machine_learning_datastore_datalake_gen2" "assets" {
  name                 = "dart_assets"
  workspace_id         = azurerm_machine_learning_workspace.this.id
  storage_container_id = azurerm_storage_container.assets.id
  description          = "dart-assets asset files (ADLS Gen2, Entra ID only)"

  lifecycle {
    # Identity-based datastores come back with a service-filled authority URL.
    ignore_changes = [authority_url]
  }
}

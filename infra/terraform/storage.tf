# Two storage accounts on purpose:
#  * datalake: ADLS Gen2 (hierarchical namespace) holding the project's asset
#    files in the private `dart-assets` container. Entra ID only: shared keys
#    are disabled, so the abfss:// URI works only with DefaultAzureCredential.
#  * workspace: the Azure ML workspace's own storage (code snapshots, job
#    logs, outputs). Azure ML does not accept a hierarchical-namespace account
#    as its workspace storage, hence the second account.
# Both: TLS 1.2, HTTPS only, no anonymous/public blob access, firewall that
# denies by default (compute subnet + allowed IPs + trusted Azure services +
# the workspace itself), blob and container soft delete.

resource "azurerm_storage_account" "datalake" {
  #checkov:skip=CKV_AZURE_43:The name is var.name_prefix (validated: 3-12 of [a-z0-9]) + a 2-letter role + 6 hex digits of md5(), 11-20 lowercase alphanumerics, which is valid; checkov cannot evaluate md5() of a data source. dart_assets_tests/infra asserts the composition.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys (plus infrastructure double encryption). CMK needs a key vault key, a key-access identity and rotation ops; the data is public ERCOT market data and derived features.
  #checkov:skip=CKV2_AZURE_33:No private endpoint: the firewall denies public traffic and admits the compute subnet through a free service endpoint; private endpoints add hourly cost and private DNS zones for a stack that idles at zero nodes.
  #checkov:skip=CKV_AZURE_59:Public network access must stay enabled for the firewall's IP allow-list (local Dagster, az CLI); the default action is Deny, so only listed IPs, the compute subnet and the workspace get in.
  #checkov:skip=CKV_AZURE_33:The queue service is not used by this stack; setting queue_properties also needs data-plane access from the Terraform runner through the firewall.
  name                     = local.datalake_name
  resource_group_name      = azurerm_resource_group.this.name
  location                 = azurerm_resource_group.this.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type
  is_hns_enabled           = true

  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  sftp_enabled                      = false
  cross_tenant_replication_enabled  = false
  public_network_access_enabled     = true

  # The hosted services (Container Apps subnet) write assets, MLflow artifacts and Dagster step logs.
  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices", "Logging", "Metrics"]
    ip_rules                   = local.storage_ip_rules
    virtual_network_subnet_ids = [azurerm_subnet.compute.id, azurerm_subnet.apps.id]

    private_link_access {
      endpoint_resource_id = local.workspace_id
      endpoint_tenant_id   = local.tenant_id
    }
  }

  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }

  tags = var.tags
}

resource "azurerm_storage_container" "assets" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete logging is configured with azurerm_monitor_diagnostic_setting.datalake_blob (resource logs to Log Analytics), which this graph check does not follow.
  name = var.assets_container_name
  # storage_account_id: created through the management plane, so Terraform
  # needs neither a shared key nor a hole in the data-plane firewall.
  storage_account_id    = azurerm_storage_account.datalake.id
  container_access_type = "private"
}

resource "azurerm_storage_account" "workspace" {
  #checkov:skip=CKV_AZURE_43:The name is var.name_prefix (validated: 3-12 of [a-z0-9]) + a 2-letter role + 6 hex digits of md5(), 11-20 lowercase alphanumerics, which is valid; checkov cannot evaluate md5() of a data source. dart_assets_tests/infra asserts the composition.
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys (plus infrastructure double encryption). CMK would also require a CMK-encrypted workspace (extra Cosmos DB/Search resources billed even when idle).
  #checkov:skip=CKV2_AZURE_33:No private endpoint: the firewall denies public traffic and admits the compute subnet through a free service endpoint; private endpoints add hourly cost and private DNS zones for a stack that idles at zero nodes.
  #checkov:skip=CKV_AZURE_59:Public network access must stay enabled for the firewall's IP allow-list (az ml job create uploads code snapshots from the developer's machine); the default action is Deny.
  #checkov:skip=CKV_AZURE_33:The queue service is not used by this stack; setting queue_properties also needs data-plane access from the Terraform runner through the firewall.
  #checkov:skip=CKV2_AZURE_40:Azure ML's default datastores (workspaceblobstore, workspaceartifactstore) authenticate with the account key; azurerm cannot set the workspace's systemDatastoresAuthMode=identity (preview), so shared keys stay on for this account only. The asset data lake has them off.
  name                     = local.workspace_storage_name
  resource_group_name      = azurerm_resource_group.this.name
  location                 = azurerm_resource_group.this.location
  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type
  is_hns_enabled           = false

  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  allow_nested_items_to_be_public   = false
  shared_access_key_enabled         = true
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  sftp_enabled                      = false
  cross_tenant_replication_enabled  = false
  public_network_access_enabled     = true

  network_rules {
    default_action             = "Deny"
    bypass                     = ["AzureServices", "Logging", "Metrics"]
    ip_rules                   = local.storage_ip_rules
    virtual_network_subnet_ids = [azurerm_subnet.compute.id]

    private_link_access {
      endpoint_resource_id = local.workspace_id
      endpoint_tenant_id   = local.tenant_id
    }
  }

  blob_properties {
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }

  tags = var.tags
}

# The MLflow server's artifact store (mlflow server --artifacts-destination abfss://mlflow-artifacts@...): the server
# writes and serves the artifacts with its managed identity; clients only talk to the server.
resource "azurerm_storage_container" "mlflow_artifacts" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete logging is configured with azurerm_monitor_diagnostic_setting.datalake_blob (resource logs to Log Analytics), which this graph check does not follow.
  name                  = "mlflow-artifacts"
  storage_account_id    = azurerm_storage_account.datalake.id
  container_access_type = "private"
}

# Dagster's captured step stdout/stderr (deploy/azure/dagster.yaml, AzureBlobComputeLogManager).
resource "azurerm_storage_container" "dagster_compute_logs" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete logging is configured with azurerm_monitor_diagnostic_setting.datalake_blob (resource logs to Log Analytics), which this graph check does not follow.
  name                  = "dagster-compute-logs"
  storage_account_id    = azurerm_storage_account.datalake.id
  container_access_type = "private"
}

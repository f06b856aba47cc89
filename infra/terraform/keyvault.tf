resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV2_AZURE_32:No private endpoint: network ACLs deny by default and admit the compute subnet (service endpoint), trusted Azure services (the ML workspace) and allowed IPs; private endpoints add hourly cost and private DNS zones.
  #checkov:skip=CKV_AZURE_189:Public network access stays enabled only so the IP allow-list in network_acls can apply (default action Deny).
  name                = local.key_vault_name
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tenant_id           = local.tenant_id
  sku_name            = "standard"

  purge_protection_enabled   = true
  soft_delete_retention_days = var.key_vault_soft_delete_days
  # Access policies (not RBAC): the ML workspace grants its own identity an
  # access policy when it is created; the two below are managed separately.
  # The one secret Terraform defines is the PostgreSQL password (postgres.tf).

  network_acls {
    default_action             = "Deny"
    bypass                     = "AzureServices"
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = [azurerm_subnet.compute.id, azurerm_subnet.apps.id]
  }

  tags = var.tags

  lifecycle {
    # The workspace adds its access policy out of band.
    ignore_changes = [access_policy]
  }
}

# Whoever runs Terraform writes the PostgreSQL password (through the firewall's allowed_ip_ranges).
resource "azurerm_key_vault_access_policy" "terraform" {
  key_vault_id       = azurerm_key_vault.this.id
  tenant_id          = local.tenant_id
  object_id          = data.azurerm_client_config.current.object_id
  secret_permissions = ["Get", "List", "Set", "Delete", "Recover"]
}

# The hosted services only read secrets (Container Apps resolves their Key Vault references with this identity).
resource "azurerm_key_vault_access_policy" "services" {
  key_vault_id       = azurerm_key_vault.this.id
  tenant_id          = local.tenant_id
  object_id          = azurerm_user_assigned_identity.services.principal_id
  secret_permissions = ["Get"]
}

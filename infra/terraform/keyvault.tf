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
  # access policy when it is created. No secrets are defined by Terraform.

  network_acls {
    default_action             = "Deny"
    bypass                     = "AzureServices"
    ip_rules                   = var.allowed_ip_ranges
    virtual_network_subnet_ids = [azurerm_subnet.compute.id]
  }

  tags = var.tags

  lifecycle {
    # The workspace adds its access policy out of band.
    ignore_changes = [access_policy]
  }
}

# PostgreSQL Flexible Server for the hosted services: Dagster's instance (runs, event logs, schedules, backfills:
# database `dagster`) and MLflow's tracking + registry store (database `mlflow`), as in deploy/docker-compose.yml.
# VNet-injected into its own delegated subnet with a private DNS zone: no public endpoint at all.
#
# The password is generated here, kept in the key vault, and reaches the containers only as a Key Vault reference
# resolved with the services' managed identity. It is in the Terraform state (as every generated secret is): keep
# the state in a protected backend.

resource "random_password" "postgres" {
  length  = 40
  special = false # goes into libpq settings and URLs unquoted; 40 alphanumerics are ~238 bits
}

resource "azurerm_private_dns_zone" "postgres" {
  name                = "${local.postgres_name}.private.postgres.database.azure.com"
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "postgres" {
  name                  = "postgres-to-vnet"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.postgres.name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
  tags                  = var.tags
}

resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV2_AZURE_57:VNet injection (delegated subnet + private DNS zone, public_network_access_enabled = false) makes the server private; a private endpoint is the alternative model for the same isolation and cannot be combined with VNet injection.
  name                = local.postgres_name
  resource_group_name = azurerm_resource_group.this.name
  location            = azurerm_resource_group.this.location
  # The major version the integration test runs (dart_assets_tests/deploy) and the compose file pins.
  version    = "15"
  sku_name   = var.postgres_sku_name
  storage_mb = var.postgres_storage_mb

  delegated_subnet_id           = azurerm_subnet.postgres.id
  private_dns_zone_id           = azurerm_private_dns_zone.postgres.id
  public_network_access_enabled = false

  administrator_login    = "dart"
  administrator_password = random_password.postgres.result

  authentication {
    password_auth_enabled         = true
    active_directory_auth_enabled = false
  }

  backup_retention_days        = var.postgres_backup_retention_days
  geo_redundant_backup_enabled = true

  tags = var.tags

  depends_on = [
    azurerm_private_dns_zone_virtual_network_link.postgres,
    azurerm_subnet_network_security_group_association.postgres,
  ]

  lifecycle {
    # Azure picks an availability zone when none is given; do not move the server on the next apply.
    ignore_changes = [zone]
  }
}

resource "azurerm_postgresql_flexible_server_database" "dagster" {
  name      = "dagster"
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

resource "azurerm_postgresql_flexible_server_database" "mlflow" {
  name      = "mlflow"
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# Connection and checkpoint logs, for audit (Log Analytics via the diagnostic setting in monitoring.tf).
resource "azurerm_postgresql_flexible_server_configuration" "log_connections" {
  name      = "log_connections"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_configuration" "log_checkpoints" {
  name      = "log_checkpoints"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_key_vault_secret" "postgres_password" {
  #checkov:skip=CKV_AZURE_41:The password has no expiry date because nothing would rotate it in time: an expired Key Vault reference stops every service at its next restart. Rotate with `terraform apply -replace=random_password.postgres`.
  name         = "postgres-password"
  value        = random_password.postgres.result
  key_vault_id = azurerm_key_vault.this.id
  content_type = "text/plain; PostgreSQL password of user dart (Dagster and MLflow databases)"
  tags         = var.tags

  depends_on = [azurerm_key_vault_access_policy.terraform]
}

output "subscription_id" {
  description = "Subscription holding the stack (AZURE_SUBSCRIPTION_ID)."
  value       = local.subscription_id
}

output "resource_group" {
  description = "Resource group (AZURE_RESOURCE_GROUP)."
  value       = azurerm_resource_group.this.name
}

output "workspace_name" {
  description = "Azure ML workspace (AZUREML_WORKSPACE)."
  value       = azurerm_machine_learning_workspace.this.name
}

output "workspace_discovery_url" {
  description = "The workspace's regional discovery endpoint."
  value       = azurerm_machine_learning_workspace.this.discovery_url
}

output "mlflow_tracking_uri" {
  description = <<-EOT
    MLFLOW_TRACKING_URI: the MLflow tracking server this stack runs (services.tf; PostgreSQL backend,
    artifacts in the data lake, served by the server). Reachable from the VNet only: the clusters, the hosted
    Dagster services, and people through a VPN or jump host (ui_allowed_ip_ranges).
  EOT
  value       = local.mlflow_url
}

output "dagster_webserver_url" {
  description = "The Dagster UI of the hosted instance (VNet only; see infra/README.md, Authentication)."
  value       = "https://${azurerm_container_app.service["dagster-webserver"].ingress[0].fqdn}"
}

output "container_apps_environment_domain" {
  description = "Default domain of the internal Container Apps environment (its private DNS zone, for VPN DNS forwarding)."
  value       = azurerm_container_app_environment.this.default_domain
}

output "container_apps_environment_ip" {
  description = "The environment's internal load balancer address (every app's FQDN resolves to it inside the VNet)."
  value       = azurerm_container_app_environment.this.static_ip_address
}

output "dart_assets_image" {
  description = "The image the services run: push it with az acr build -r <registry> -t dart-assets:<image_tag> -f deploy/Dockerfile ."
  value       = local.image
}

output "postgres_fqdn" {
  description = "PostgreSQL Flexible Server (private; databases dagster and mlflow; password in the key vault as postgres-password)."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "services_identity_client_id" {
  description = "Client id of the hosted services' user-assigned identity (AZURE_CLIENT_ID in the containers)."
  value       = azurerm_user_assigned_identity.services.client_id
}

output "storage_account_name" {
  description = "ADLS Gen2 account holding the asset files."
  value       = azurerm_storage_account.datalake.name
}

output "storage_container_name" {
  description = "Private container (file system) for the asset files."
  value       = azurerm_storage_container.assets.name
}

output "dart_storage_uri" {
  description = "DART_STORAGE value: abfss:// root of the asset files."
  value       = "abfss://${azurerm_storage_container.assets.name}@${azurerm_storage_account.datalake.name}.dfs.core.windows.net/"
}

output "workspace_storage_account_name" {
  description = "The workspace's own storage (snapshots, logs, job outputs)."
  value       = azurerm_storage_account.workspace.name
}

output "container_registry_name" {
  description = "Registry holding the environment images."
  value       = azurerm_container_registry.this.name
}

output "key_vault_name" {
  description = "The workspace's key vault."
  value       = azurerm_key_vault.this.name
}

output "compute_identity_client_id" {
  description = "Client id of the clusters' user-assigned identity (AZURE_CLIENT_ID inside jobs, for DefaultAzureCredential)."
  value       = azurerm_user_assigned_identity.compute.client_id
}

output "compute_identity_principal_id" {
  description = "Object id of the clusters' user-assigned identity."
  value       = azurerm_user_assigned_identity.compute.principal_id
}

output "cpu_cluster_name" {
  description = "AZUREML_CPU_CLUSTER."
  value       = azurerm_machine_learning_compute_cluster.cpu.name
}

output "gpu_cluster_name" {
  description = "AZUREML_GPU_CLUSTER."
  value       = azurerm_machine_learning_compute_cluster.gpu.name
}

output "application_insights_name" {
  description = "Application Insights attached to the workspace."
  value       = azurerm_application_insights.this.name
}

output "project_env" {
  description = "Environment variables pointing a Dagster process inside the VNet at this stack (`terraform output -json project_env`); the hosted code location runs with the same values (services.tf)."
  value       = local.azure_env
}

output "assets_datastore_name" {
  description = "Azure ML datastore on the asset container (inputs: azureml://datastores/<name>/paths/...)."
  value       = azurerm_machine_learning_datastore_datalake_gen2.assets.name
}

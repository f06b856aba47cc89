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
    MLflow tracking URI (MLFLOW_TRACKING_URI). azurerm exposes no attribute
    for it, so it is built from discovery_url + the workspace id in the
    documented azureml://<region>.api.azureml.ms/mlflow/v1.0/<workspace id>
    form. Authoritative value:
      az ml workspace show -g <rg> -n <ws> --query mlflow_tracking_uri -o tsv
  EOT
  value       = "azureml://${trimsuffix(trimprefix(azurerm_machine_learning_workspace.this.discovery_url, "https://"), "/discovery")}/mlflow/v1.0${azurerm_machine_learning_workspace.this.id}"
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
  description = "Environment variables pointing the project at this stack (`terraform output -json project_env`)."
  value = {
    DART_EXECUTION        = "azureml"
    AZURE_SUBSCRIPTION_ID = local.subscription_id
    AZURE_RESOURCE_GROUP  = azurerm_resource_group.this.name
    AZUREML_WORKSPACE     = azurerm_machine_learning_workspace.this.name
    AZUREML_CPU_CLUSTER   = azurerm_machine_learning_compute_cluster.cpu.name
    AZUREML_GPU_CLUSTER   = azurerm_machine_learning_compute_cluster.gpu.name
    AZUREML_ENVIRONMENT       = "azureml:dart-assets-cpu@latest"
    AZUREML_GPU_ENVIRONMENT   = "azureml:dart-assets-gpu@latest"
    AZUREML_COMPUTE_CLIENT_ID = azurerm_user_assigned_identity.compute.client_id
    DART_STORAGE          = "abfss://${azurerm_storage_container.assets.name}@${azurerm_storage_account.datalake.name}.dfs.core.windows.net/"
    MLFLOW_TRACKING_URI   = "azureml://${trimsuffix(trimprefix(azurerm_machine_learning_workspace.this.discovery_url, "https://"), "/discovery")}/mlflow/v1.0${azurerm_machine_learning_workspace.this.id}"
  }
}

output "assets_datastore_name" {
  description = "Azure ML datastore on the asset container (inputs: azureml://datastores/<name>/paths/...)."
  value       = azurerm_machine_learning_datastore_datalake_gen2.assets.name
}

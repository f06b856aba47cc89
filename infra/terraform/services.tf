# The hosted services, as in deploy/docker-compose.yml, on Azure Container Apps: the MLflow tracking server
# (PostgreSQL backend, artifacts in the data lake, served by the server), the Dagster code location (gRPC; it also
# runs the runs, whose training steps go to Azure ML), the daemon (schedules, run queue, backfills) and the
# webserver. One image (deploy/Dockerfile, pushed to the registry), the same commands as the compose file
# (dart_assets_tests/infra checks that), one managed identity, the PostgreSQL password as a Key Vault reference.
#
# Private: the environment has an internal load balancer only, in the VNet; a private DNS zone lets the compute
# clusters (same VNet) resolve the MLflow server, and each app's ingress admits only the listed ranges.

locals {
  image       = "${azurerm_container_registry.this.login_server}/dart-assets:${var.image_tag}"
  mlflow_host = "mlflow.${azurerm_container_app_environment.this.default_domain}"
  mlflow_url  = "https://${local.mlflow_host}"
  ui_ranges   = length(var.ui_allowed_ip_ranges) > 0 ? var.ui_allowed_ip_ranges : [var.vnet_address_space]
  # Who may call the MLflow server: the training jobs (compute subnet), the code location (apps subnet), people.
  mlflow_ranges = distinct(concat([var.compute_subnet_prefix, var.apps_subnet_prefix], local.ui_ranges))

  # The instance every Dagster process opens (deploy/azure/dagster.yaml), as compose's x-dagster-env.
  dagster_env = {
    DAGSTER_HOME                = "/opt/dagster/home-azure"
    DART_PG_HOST                = azurerm_postgresql_flexible_server.this.fqdn
    DART_PG_PORT                = "5432"
    DART_PG_USER                = azurerm_postgresql_flexible_server.this.administrator_login
    PGSSLMODE                   = "require"
    DAGSTER_COMPUTE_LOG_ACCOUNT = azurerm_storage_account.datalake.name
    AZURE_CLIENT_ID             = azurerm_user_assigned_identity.services.client_id
  }
  # What a Dagster process needs to train on Azure ML, keep assets in the data lake and log to the MLflow server:
  # the hosted code location's settings, and the `project_env` output for a process elsewhere in the VNet.
  azure_env = {
    DART_EXECUTION            = "azureml"
    DART_STORAGE              = "abfss://${azurerm_storage_container.assets.name}@${azurerm_storage_account.datalake.name}.dfs.core.windows.net/"
    MLFLOW_TRACKING_URI       = local.mlflow_url
    AZURE_SUBSCRIPTION_ID     = local.subscription_id
    AZURE_RESOURCE_GROUP      = azurerm_resource_group.this.name
    AZUREML_WORKSPACE         = azurerm_machine_learning_workspace.this.name
    AZUREML_CPU_CLUSTER       = azurerm_machine_learning_compute_cluster.cpu.name
    AZUREML_GPU_CLUSTER       = azurerm_machine_learning_compute_cluster.gpu.name
    AZUREML_ENVIRONMENT       = "azureml:dart-assets-cpu@latest"
    AZUREML_GPU_ENVIRONMENT   = "azureml:dart-assets-gpu@latest"
    AZUREML_COMPUTE_CLIENT_ID = azurerm_user_assigned_identity.compute.client_id
  }
  # The code location runs the runs: training goes to the Azure ML clusters, models to the MLflow server.
  code_location_env = merge(local.dagster_env, local.azure_env, { MLFLOW_UI_URL = local.mlflow_url })
  # The webserver and the daemon reach the code location's gRPC server (deploy/workspace.yaml): an app with TCP
  # ingress is reachable from the other apps of its environment by its name and exposed port.
  workspace_env = merge(local.dagster_env, {
    DAGSTER_CODE_SERVER_HOST = "dagster-code"
    DAGSTER_CODE_SERVER_PORT = "4000"
  })

  # The four apps: deploy/docker-compose.yml's commands (dart_assets_tests/infra checks them), their settings, and
  # who may reach them. `password_env` receives the PostgreSQL password from the key vault.
  apps = {
    mlflow = {
      container = "mlflow"
      cpu       = 1.0
      memory    = "2Gi"
      command = [
        "mlflow", "server",
        "--backend-store-uri", "postgresql+psycopg2://${azurerm_postgresql_flexible_server.this.administrator_login}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/${azurerm_postgresql_flexible_server_database.mlflow.name}",
        "--serve-artifacts",
        "--artifacts-destination", "abfss://${azurerm_storage_container.mlflow_artifacts.name}@${azurerm_storage_account.datalake.name}.dfs.core.windows.net/",
        "--host", "0.0.0.0",
        "--port", "5000",
        "--workers", "2",
      ]
      env = {
        PGSSLMODE                   = "require"
        MLFLOW_SERVER_ALLOWED_HOSTS = local.mlflow_host
        AZURE_CLIENT_ID             = azurerm_user_assigned_identity.services.client_id
      }
      password_env = "PGPASSWORD" # libpq reads it: no password on the command line
      # "External" to the environment = reachable from the VNet (the environment itself is internal-only).
      ingress    = { external = true, transport = "http", port = 5000, exposed_port = null, ranges = local.mlflow_ranges }
      probe_path = "/health"
    }
    dagster-code = {
      container    = "code-location"
      cpu          = 2.0
      memory       = "4Gi"
      command      = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "dart_assets.definitions", "--location-name", "dart_assets"]
      env          = local.code_location_env
      password_env = "DART_PG_PASSWORD"
      # gRPC (plain TCP) for the webserver and the daemon only: not reachable from outside the environment.
      ingress    = { external = false, transport = "tcp", port = 4000, exposed_port = 4000, ranges = [] }
      probe_path = null
    }
    dagster-daemon = {
      container    = "daemon"
      cpu          = 0.5
      memory       = "1Gi"
      command      = ["dagster-daemon", "run", "-w", "deploy/workspace.yaml"]
      env          = local.workspace_env
      password_env = "DART_PG_PASSWORD"
      ingress      = null
      probe_path   = null
    }
    dagster-webserver = {
      container    = "webserver"
      cpu          = 1.0
      memory       = "2Gi"
      command      = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "deploy/workspace.yaml"]
      env          = local.workspace_env
      password_env = "DART_PG_PASSWORD"
      # The UI, from the VNet (VPN, jump host) only; it has no login of its own (infra/README.md, Authentication).
      ingress    = { external = true, transport = "http", port = 3000, exposed_port = null, ranges = local.ui_ranges }
      probe_path = "/server_info"
    }
  }
}

resource "azurerm_container_app_environment" "this" {
  name                           = local.apps_environment_name
  location                       = azurerm_resource_group.this.location
  resource_group_name            = azurerm_resource_group.this.name
  infrastructure_subnet_id       = azurerm_subnet.apps.id
  internal_load_balancer_enabled = true
  logs_destination               = "log-analytics"
  log_analytics_workspace_id     = azurerm_log_analytics_workspace.this.id

  workload_profile {
    name                  = "Consumption"
    workload_profile_type = "Consumption"
  }

  tags = var.tags

  depends_on = [azurerm_subnet_network_security_group_association.apps]
}

# <app>.<environment domain> resolves, inside the VNet, to the environment's internal load balancer.
resource "azurerm_private_dns_zone" "apps" {
  name                = azurerm_container_app_environment.this.default_domain
  resource_group_name = azurerm_resource_group.this.name
  tags                = var.tags
}

resource "azurerm_private_dns_a_record" "apps" {
  name                = "*"
  zone_name           = azurerm_private_dns_zone.apps.name
  resource_group_name = azurerm_resource_group.this.name
  ttl                 = 300
  records             = [azurerm_container_app_environment.this.static_ip_address]
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "apps" {
  name                  = "container-apps-to-vnet"
  resource_group_name   = azurerm_resource_group.this.name
  private_dns_zone_name = azurerm_private_dns_zone.apps.name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
  tags                  = var.tags
}

resource "azurerm_container_app" "service" {
  for_each                     = local.apps
  name                         = each.key
  container_app_environment_id = azurerm_container_app_environment.this.id
  resource_group_name          = azurerm_resource_group.this.name
  revision_mode                = "Single"

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.services.id]
  }

  registry {
    server   = azurerm_container_registry.this.login_server
    identity = azurerm_user_assigned_identity.services.id
  }

  secret {
    name                = "postgres-password"
    identity            = azurerm_user_assigned_identity.services.id
    key_vault_secret_id = azurerm_key_vault_secret.postgres_password.versionless_id
  }

  dynamic "ingress" {
    for_each = each.value.ingress == null ? [] : [each.value.ingress]
    content {
      external_enabled           = ingress.value.external
      transport                  = ingress.value.transport
      target_port                = ingress.value.port
      exposed_port               = ingress.value.exposed_port
      allow_insecure_connections = false

      dynamic "ip_security_restriction" {
        for_each = ingress.value.ranges
        content {
          name             = "allow-${replace(replace(ip_security_restriction.value, ".", "-"), "/", "-")}"
          action           = "Allow"
          ip_address_range = ip_security_restriction.value
        }
      }

      traffic_weight {
        latest_revision = true
        percentage      = 100
      }
    }
  }

  template {
    # One replica each: the daemon must be unique (two would fire every schedule twice), runs are subprocesses of
    # the one code server (DefaultRunLauncher), and the metadata load is small.
    min_replicas = 1
    max_replicas = 1

    container {
      name    = each.value.container
      image   = local.image
      cpu     = each.value.cpu
      memory  = each.value.memory
      command = each.value.command

      dynamic "env" {
        for_each = each.value.env
        content {
          name  = env.key
          value = env.value
        }
      }
      env {
        name        = each.value.password_env
        secret_name = "postgres-password"
      }

      dynamic "liveness_probe" {
        for_each = each.value.probe_path == null ? [] : [each.value.probe_path]
        content {
          transport = "HTTP"
          port      = each.value.ingress.port
          path      = liveness_probe.value
        }
      }
    }
  }

  tags = var.tags

  depends_on = [
    azurerm_role_assignment.services_acr_pull,
    azurerm_role_assignment.services_blob_data_contributor,
    azurerm_role_assignment.services_azureml_data_scientist,
    azurerm_key_vault_access_policy.services,
    azurerm_postgresql_flexible_server_database.dagster,
    azurerm_postgresql_flexible_server_database.mlflow,
  ]
}

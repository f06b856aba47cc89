# ---------------------------------------------------------------------------
# Placement and naming
# ---------------------------------------------------------------------------

variable "subscription_id" {
  description = "Azure subscription to deploy into. Null: taken from ARM_SUBSCRIPTION_ID."
  type        = string
  default     = null
}

variable "location" {
  description = "Azure region. ERCOT is in Texas, so South Central US by default; pick one where your NC-family GPU quota is."
  type        = string
  default     = "southcentralus"
}

variable "resource_group_name" {
  description = "Resource group holding every resource of this stack."
  type        = string
  default     = "rg-dart-assets"
}

variable "name_prefix" {
  description = "Lowercase letters/digits used to build globally unique names (storage, ACR, key vault, workspace)."
  type        = string
  default     = "dartassets"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,11}$", var.name_prefix))
    error_message = "name_prefix must be 3-12 lowercase letters/digits, starting with a letter (storage account names are at most 24 characters)."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default = {
    project    = "dart-assets"
    managed-by = "terraform"
  }
}

# ---------------------------------------------------------------------------
# Network access
# ---------------------------------------------------------------------------

variable "allowed_ip_ranges" {
  description = <<-EOT
    Public IPv4 addresses or CIDR ranges allowed through the storage and key
    vault firewalls: the machine running Dagster locally, `az ml job create`
    and Terraform itself, e.g. ["203.0.113.7/32"]. Empty = only the compute
    subnet and trusted Azure services get in.
  EOT
  type        = list(string)
  default     = []
}

variable "vnet_address_space" {
  description = "Address space of the VNet the compute clusters join."
  type        = string
  default     = "10.42.0.0/16"
}

variable "compute_subnet_prefix" {
  description = "Subnet of the AML compute clusters (service endpoints to Storage, Key Vault and ACR)."
  type        = string
  default     = "10.42.0.0/22"
}

variable "apps_subnet_prefix" {
  description = "Subnet of the Container Apps environment (Dagster and MLflow services), delegated to Microsoft.App/environments (/27 or larger)."
  type        = string
  default     = "10.42.4.0/23"
}

variable "postgres_subnet_prefix" {
  description = "Subnet of PostgreSQL Flexible Server, delegated to Microsoft.DBforPostgreSQL/flexibleServers."
  type        = string
  default     = "10.42.6.0/24"
}

variable "ui_allowed_ip_ranges" {
  description = <<-EOT
    Private address ranges (VPN clients, a jump host) allowed to open the Dagster webserver and the MLflow UI,
    e.g. ["172.16.0.0/24"]. Empty = anywhere in the VNet. The services are never on the internet: the
    Container Apps environment has an internal load balancer only.
  EOT
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# Storage
# ---------------------------------------------------------------------------

variable "storage_replication_type" {
  description = "Replication of both storage accounts (geo-redundant by default; at idle the data is small, so GRS costs cents more than LRS)."
  type        = string
  default     = "GRS"

  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"], var.storage_replication_type)
    error_message = "storage_replication_type must be one of LRS, ZRS, GRS, RAGRS, GZRS, RAGZRS."
  }
}

variable "soft_delete_retention_days" {
  description = "Days deleted blobs and containers stay recoverable."
  type        = number
  default     = 14

  validation {
    condition     = var.soft_delete_retention_days >= 1 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be between 1 and 365."
  }
}

variable "assets_container_name" {
  description = "Private ADLS Gen2 container (file system) holding the asset files."
  type        = string
  default     = "dart-assets"
}

# ---------------------------------------------------------------------------
# Key vault, monitoring, registry
# ---------------------------------------------------------------------------

variable "key_vault_soft_delete_days" {
  description = "Key vault soft-delete retention (7-90 days)."
  type        = number
  default     = 90

  validation {
    condition     = var.key_vault_soft_delete_days >= 7 && var.key_vault_soft_delete_days <= 90
    error_message = "key_vault_soft_delete_days must be between 7 and 90."
  }
}

variable "log_retention_days" {
  description = "Log Analytics retention (30 is included in the ingestion price)."
  type        = number
  default     = 30
}

variable "acr_sku" {
  description = "Container registry SKU. Basic keeps idle cost around 5 USD/month; Premium adds firewall, private link, retention and trust policies."
  type        = string
  default     = "Basic"

  validation {
    condition     = contains(["Basic", "Standard", "Premium"], var.acr_sku)
    error_message = "acr_sku must be Basic, Standard or Premium."
  }
}

# ---------------------------------------------------------------------------
# Compute clusters
# ---------------------------------------------------------------------------

variable "cpu_cluster_name" {
  description = "Name of the CPU cluster (LightGBM, XGBoost). Jobs reference it as azureml:<name>."
  type        = string
  default     = "cpu-cluster"
}

variable "cpu_vm_size" {
  description = "VM size of the CPU cluster."
  type        = string
  default     = "Standard_D4s_v3"
}

variable "cpu_max_nodes" {
  description = "Maximum nodes of the CPU cluster (min is always 0: scale to zero)."
  type        = number
  default     = 4

  validation {
    condition     = var.cpu_max_nodes >= 1
    error_message = "cpu_max_nodes must be at least 1."
  }
}

variable "cpu_low_priority" {
  description = "Use low-priority (preemptible, much cheaper) VMs for the CPU cluster."
  type        = bool
  default     = false
}

variable "gpu_cluster_name" {
  description = "Name of the GPU cluster (PyTorch LSTM). Jobs reference it as azureml:<name>."
  type        = string
  default     = "gpu-cluster"
}

variable "gpu_vm_size" {
  description = "NC-family VM size of the GPU cluster (needs NC quota in the region)."
  type        = string
  default     = "Standard_NC4as_T4_v3"

  validation {
    condition     = can(regex("^Standard_NC", var.gpu_vm_size))
    error_message = "gpu_vm_size must be an NC-family size (Standard_NC...)."
  }
}

variable "gpu_max_nodes" {
  description = "Maximum nodes of the GPU cluster (min is always 0: scale to zero)."
  type        = number
  default     = 1

  validation {
    condition     = var.gpu_max_nodes >= 1
    error_message = "gpu_max_nodes must be at least 1."
  }
}

variable "gpu_low_priority" {
  description = "Use low-priority (preemptible, much cheaper) VMs for the GPU cluster."
  type        = bool
  default     = false
}

variable "idle_scale_down_seconds" {
  description = "Seconds a node sits idle before the cluster scales it away."
  type        = number
  default     = 600

  validation {
    condition     = var.idle_scale_down_seconds >= 60
    error_message = "idle_scale_down_seconds must be at least 60."
  }
}

# ---------------------------------------------------------------------------
# People / CI
# ---------------------------------------------------------------------------

variable "data_scientist_principal_ids" {
  description = <<-EOT
    Entra object ids of users/groups/CI principals that run the project
    against this stack (local Dagster, `az ml job create`). Each gets the same
    two scoped roles as the compute identity: Storage Blob Data Contributor on
    the data lake and AzureML Data Scientist on the workspace.
  EOT
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# Hosted services: Dagster (webserver, daemon, code location), MLflow, PostgreSQL
# ---------------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of the dart-assets image (deploy/Dockerfile) in the registry, e.g. a commit SHA: az acr build -r <registry> -t dart-assets:<tag> -f deploy/Dockerfile ."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid container image tag."
  }
}

variable "postgres_sku_name" {
  description = "PostgreSQL Flexible Server SKU (Burstable B1ms is enough for Dagster's and MLflow's metadata)."
  type        = string
  default     = "B_Standard_B1ms"
}

variable "postgres_storage_mb" {
  description = "PostgreSQL storage in MB (32768 = the smallest size)."
  type        = number
  default     = 32768
}

variable "postgres_backup_retention_days" {
  description = "Days of PostgreSQL point-in-time backups (7-35)."
  type        = number
  default     = 14

  validation {
    condition     = var.postgres_backup_retention_days >= 7 && var.postgres_backup_retention_days <= 35
    error_message = "postgres_backup_retention_days must be between 7 and 35."
  }
}

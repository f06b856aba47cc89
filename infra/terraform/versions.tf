terraform {
  required_version = ">= 1.6"

  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
      # storage_container.storage_account_id (management-plane container
      # creation, no shared key needed) arrived in 4.9.
      version = "~> 4.0, >= 4.9"
    }
    # The PostgreSQL password (postgres.tf), generated here and stored in the key vault.
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "azurerm" {
  # azurerm 4.x needs a subscription: set var.subscription_id or export
  # ARM_SUBSCRIPTION_ID (null here falls back to the environment variable).
  subscription_id = var.subscription_id

  # The data lake has shared-key auth disabled: any data-plane call the
  # provider makes must use Entra ID, never an account key.
  storage_use_azuread = true

  features {
    key_vault {
      # Keep soft-deleted vaults/secrets recoverable after `terraform destroy`.
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
    resource_group {
      # The AML workspace creates resources of its own in the group; refuse to
      # delete a group still holding anything Terraform does not know about.
      prevent_deletion_if_contains_resources = true
    }
  }
}

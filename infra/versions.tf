terraform {
  required_version = ">= 1.9"

  required_providers {
    # 4.x: Flex Consumption with runtime_name = "custom", `rbac_authorization_enabled` on Key
    # Vault and `storage_account_id` on containers are all 4.x spellings.
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}

  subscription_id = var.subscription_id

  # Both storage accounts disable shared keys, so data-plane calls must use Entra ID.
  storage_use_azuread = true
}

# Two accounts so that roles stay narrow: the function host needs Blob Data Owner on its own
# account (leases for timers and the Flex deployment package), while saga state only needs
# Blob Data Contributor on one container.

resource "azurerm_storage_account" "state" {
  #checkov:skip=CKV_AZURE_35:no VNet yet; shared keys off, Entra-only access (README: Status)
  #checkov:skip=CKV_AZURE_59:public endpoint until VNet integration; keys and anonymous off
  #checkov:skip=CKV2_AZURE_33:private endpoints come with VNet integration (README: Status)
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys; no secrets here (they live in Key Vault)
  #checkov:skip=CKV_AZURE_33:queue service not used by the app; blob logs go to Log Analytics
  name                              = "st${var.name_prefix}state${local.suffix}"
  resource_group_name               = azurerm_resource_group.polaris.name
  location                          = azurerm_resource_group.polaris.location
  account_tier                      = "Standard"
  account_replication_type          = var.state_replication_type
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  local_user_enabled                = false
  infrastructure_encryption_enabled = true

  sas_policy {
    expiration_period = "01.00:00:00"
  }

  blob_properties {
    versioning_enabled = true

    delete_retention_policy {
      days = 14
    }

    container_delete_retention_policy {
      days = 14
    }
  }

  tags = local.tags
}

resource "azurerm_storage_container" "state" {
  #checkov:skip=CKV2_AZURE_21:blob logging is set on the blob service (diagnostic setting)
  name                  = "polaris-state"
  storage_account_id    = azurerm_storage_account.state.id
  container_access_type = "private"
}

resource "azurerm_storage_account" "host" {
  #checkov:skip=CKV_AZURE_35:no VNet yet; shared keys off, Entra-only access (README: Status)
  #checkov:skip=CKV_AZURE_59:public endpoint until VNet integration; keys and anonymous off
  #checkov:skip=CKV2_AZURE_33:private endpoints come with VNet integration (README: Status)
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys; no secrets here (they live in Key Vault)
  #checkov:skip=CKV_AZURE_206:ZRS is enough: leases and package are rebuilt by a redeploy
  #checkov:skip=CKV_AZURE_33:queue service not used by the app; blob logs go to Log Analytics
  name                              = "st${var.name_prefix}host${local.suffix}"
  resource_group_name               = azurerm_resource_group.polaris.name
  location                          = azurerm_resource_group.polaris.location
  account_tier                      = "Standard"
  account_replication_type          = var.host_replication_type
  min_tls_version                   = "TLS1_2"
  https_traffic_only_enabled        = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  allow_nested_items_to_be_public   = false
  local_user_enabled                = false
  infrastructure_encryption_enabled = true

  sas_policy {
    expiration_period = "01.00:00:00"
  }

  blob_properties {
    delete_retention_policy {
      days = 7
    }

    container_delete_retention_policy {
      days = 7
    }
  }

  tags = local.tags
}

# Flex Consumption keeps the deployed zip here (one deploy pushes it).
resource "azurerm_storage_container" "package" {
  #checkov:skip=CKV2_AZURE_21:blob logging is set on the blob service (diagnostic setting)
  name                  = "app-package"
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}

# Event Grid writes undeliverable teardown events here instead of dropping them.
resource "azurerm_storage_container" "eventgrid_dead_letters" {
  #checkov:skip=CKV2_AZURE_21:blob logging is set on the blob service (diagnostic setting)
  name                  = "eventgrid-dead-letters"
  storage_account_id    = azurerm_storage_account.host.id
  container_access_type = "private"
}

resource "azurerm_monitor_diagnostic_setting" "state_blob" {
  name                       = "blob-logs"
  target_resource_id         = "${azurerm_storage_account.state.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.polaris.id

  enabled_log {
    category = "StorageRead"
  }

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}

resource "azurerm_monitor_diagnostic_setting" "host_blob" {
  name                       = "blob-logs"
  target_resource_id         = "${azurerm_storage_account.host.id}/blobServices/default"
  log_analytics_workspace_id = azurerm_log_analytics_workspace.polaris.id

  enabled_log {
    category = "StorageWrite"
  }

  enabled_log {
    category = "StorageDelete"
  }
}

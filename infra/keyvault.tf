# The orchestrator's own vault for deployment secrets (not the per-deployment key vaults the
# saga creates in the target scope).
resource "azurerm_key_vault" "secrets" {
  #checkov:skip=CKV_AZURE_109:default Allow until VNet integration; RBAC only, purge protection
  #checkov:skip=CKV_AZURE_189:public endpoint until VNet integration; Entra token + role needed
  #checkov:skip=CKV2_AZURE_32:private endpoints come with VNet integration (README: Status)
  name                          = "kv-${var.name_prefix}-${local.suffix}"
  resource_group_name           = azurerm_resource_group.polaris.name
  location                      = azurerm_resource_group.polaris.location
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true

  network_acls {
    default_action = "Allow"
    bypass         = "AzureServices"
  }

  tags = local.tags
}

resource "azurerm_monitor_diagnostic_setting" "key_vault" {
  name                       = "audit"
  target_resource_id         = azurerm_key_vault.secrets.id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.polaris.id

  enabled_log {
    category_group = "audit"
  }
}

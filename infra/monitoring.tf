resource "azurerm_log_analytics_workspace" "polaris" {
  name                = "log-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.polaris.name
  location            = azurerm_resource_group.polaris.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = local.tags
}

# Entra-only ingestion: the app authenticates with its identity (Monitoring Metrics Publisher)
# through APPLICATIONINSIGHTS_AUTHENTICATION_STRING, so the connection string alone cannot
# write telemetry.
resource "azurerm_application_insights" "polaris" {
  name                          = "appi-${var.name_prefix}-${local.suffix}"
  resource_group_name           = azurerm_resource_group.polaris.name
  location                      = azurerm_resource_group.polaris.location
  workspace_id                  = azurerm_log_analytics_workspace.polaris.id
  application_type              = "other"
  local_authentication_disabled = true
  tags                          = local.tags
}

resource "azurerm_servicebus_namespace" "polaris" {
  #checkov:skip=CKV_AZURE_199:double encryption needs Premium; Standard fits one small queue
  #checkov:skip=CKV_AZURE_201:customer-managed keys need the Premium tier
  #checkov:skip=CKV_AZURE_202:a namespace identity only serves customer-managed keys (Premium)
  #checkov:skip=CKV_AZURE_204:Standard has no network rules; SAS off, Entra data roles only
  name                          = "sb-${var.name_prefix}-${local.suffix}"
  resource_group_name           = azurerm_resource_group.polaris.name
  location                      = azurerm_resource_group.polaris.location
  sku                           = "Standard"
  local_auth_enabled            = false
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  tags                          = local.tags
}

# One saga step per message. The handler is idempotent on MessageId, duplicate detection
# absorbs resends within 10 minutes, and poison messages dead-letter after 10 deliveries.
resource "azurerm_servicebus_queue" "deployments" {
  name         = var.queue_name
  namespace_id = azurerm_servicebus_namespace.polaris.id

  lock_duration                           = "PT1M"
  max_delivery_count                      = 10
  requires_duplicate_detection            = true
  duplicate_detection_history_time_window = "PT10M"
  dead_lettering_on_message_expiration    = true
  default_message_ttl                     = "P14D"
  partitioning_enabled                    = false
  requires_session                        = false
}

# Teardown triggers reach TeardownOnEvent from two sources: resource deletions anywhere in the
# subscription (someone deleted a deployment's resources by hand) and explicit teardown
# requests published to a custom topic. The handler accepts both schemas and is idempotent
# on the event id.

locals {
  teardown_function_id = join("/", [
    azurerm_function_app_flex_consumption.polaris.id, "functions", "TeardownOnEvent",
  ])
}

resource "azurerm_eventgrid_system_topic" "subscription" {
  name                = "egst-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.polaris.name
  location            = "global"
  source_resource_id  = "/subscriptions/${var.subscription_id}"
  topic_type          = "Microsoft.Resources.Subscriptions"

  identity {
    type = "SystemAssigned"
  }

  tags = local.tags
}

resource "azurerm_eventgrid_system_topic_event_subscription" "resource_deleted" {
  count               = var.enable_event_subscriptions ? 1 : 0
  name                = "teardown-on-delete"
  system_topic        = azurerm_eventgrid_system_topic.subscription.name
  resource_group_name = azurerm_resource_group.polaris.name

  event_delivery_schema = "EventGridSchema"
  included_event_types  = ["Microsoft.Resources.ResourceDeleteSuccess"]

  subject_filter {
    subject_begins_with = local.target_scope
  }

  azure_function_endpoint {
    function_id                       = local.teardown_function_id
    max_events_per_batch              = 1
    preferred_batch_size_in_kilobytes = 64
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.host.id
    storage_blob_container_name = azurerm_storage_container.eventgrid_dead_letters.name
  }

  depends_on = [azurerm_role_assignment.system_topic_dead_letters]
}

resource "azurerm_role_assignment" "system_topic_dead_letters" {
  scope = join("/", [
    azurerm_storage_account.host.id, "blobServices/default/containers",
    azurerm_storage_container.eventgrid_dead_letters.name,
  ])
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.subscription.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_eventgrid_topic" "teardown_requests" {
  #checkov:skip=CKV_AZURE_193:publishers outside a VNet; key auth off, Entra + Data Sender only
  name                          = "egt-${var.name_prefix}-teardown-${local.suffix}"
  resource_group_name           = azurerm_resource_group.polaris.name
  location                      = azurerm_resource_group.polaris.location
  input_schema                  = "CloudEventSchemaV1_0"
  local_auth_enabled            = false
  public_network_access_enabled = true

  identity {
    type = "SystemAssigned"
  }

  tags = local.tags
}

resource "azurerm_eventgrid_event_subscription" "teardown_requests" {
  count                 = var.enable_event_subscriptions ? 1 : 0
  name                  = "teardown-requests"
  scope                 = azurerm_eventgrid_topic.teardown_requests.id
  event_delivery_schema = "CloudEventSchemaV1_0"

  azure_function_endpoint {
    function_id                       = local.teardown_function_id
    max_events_per_batch              = 1
    preferred_batch_size_in_kilobytes = 64
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.host.id
    storage_blob_container_name = azurerm_storage_container.eventgrid_dead_letters.name
  }

  depends_on = [azurerm_role_assignment.custom_topic_dead_letters]
}

resource "azurerm_role_assignment" "custom_topic_dead_letters" {
  scope = join("/", [
    azurerm_storage_account.host.id, "blobServices/default/containers",
    azurerm_storage_container.eventgrid_dead_letters.name,
  ])
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_topic.teardown_requests.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "teardown_publishers" {
  for_each             = toset(var.teardown_publisher_principal_ids)
  scope                = azurerm_eventgrid_topic.teardown_requests.id
  role_definition_name = "EventGrid Data Sender"
  principal_id         = each.value
}

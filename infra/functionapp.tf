# Flex Consumption: the current serverless Linux plan (Linux Consumption retires on
# 30 September 2028 and gets no new features). It runs custom handlers (runtime "custom"),
# scales each non-HTTP function on its own, and takes the zip by one deploy into the
# package container below; WEBSITE_RUN_FROM_PACKAGE must not be set.
resource "azurerm_service_plan" "polaris" {
  #checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero; no instance minimum
  #checkov:skip=CKV_AZURE_225:FC1 takes no zone settings; Flex zone redundancy is per region
  name                = "asp-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.polaris.name
  location            = azurerm_resource_group.polaris.location
  os_type             = "Linux"
  sku_name            = "FC1"
  tags                = local.tags
}

locals {
  identity_client_id = azurerm_user_assigned_identity.polaris.client_id
  servicebus_fqdn    = "${azurerm_servicebus_namespace.polaris.name}.servicebus.windows.net"
  state_account_url  = local.state_account_url
  package_url = join("", [
    azurerm_storage_account.host.primary_blob_endpoint, azurerm_storage_container.package.name,
  ])

  # Every key here is documented in functions/README.md (App settings).
  app_settings = {
    AzureWebJobsStorage__accountName = azurerm_storage_account.host.name
    AzureWebJobsStorage__credential  = "managedidentity"
    AzureWebJobsStorage__clientId    = local.identity_client_id

    ServiceBusConnection__fullyQualifiedNamespace = local.servicebus_fqdn
    ServiceBusConnection__credential              = "managedidentity"
    ServiceBusConnection__clientId                = local.identity_client_id

    POLARIS_QUEUE_NAME          = azurerm_servicebus_queue.deployments.name
    POLARIS_SERVICEBUS_ENDPOINT = "https://${local.servicebus_fqdn}"
    POLARIS_STATE_ACCOUNT_URL   = local.state_account_url
    POLARIS_STATE_CONTAINER     = azurerm_storage_container.state.name
    POLARIS_ARM_ENDPOINT        = var.arm_endpoint
    POLARIS_TENANT_ID           = data.azurerm_client_config.current.tenant_id
    POLARIS_CREDENTIAL          = "managed-identity"
    AZURE_CLIENT_ID             = local.identity_client_id
    POLARIS_ROTATION_SCHEDULE   = var.rotation_schedule
    POLARIS_SWEEPER_SCHEDULE    = var.sweeper_schedule
    POLARIS_SECRETS_VAULT_URL   = azurerm_key_vault.secrets.vault_uri

    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = join(";", [
      "ClientId=${local.identity_client_id}", "Authorization=AAD",
    ])
  }
}

resource "azurerm_function_app_flex_consumption" "polaris" {
  #checkov:skip=CKV_AZURE_221:public API with function keys; VNet and EasyAuth later (README)
  #checkov:skip=CKV_AZURE_56:callers use function keys (authLevel function), not EasyAuth
  #checkov:skip=CKV_AZURE_17:no client certificates; callers send function keys over TLS 1.2
  name                = "func-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.polaris.name
  location            = azurerm_resource_group.polaris.location
  service_plan_id     = azurerm_service_plan.polaris.id

  runtime_name           = "custom"
  runtime_version        = var.custom_runtime_version
  maximum_instance_count = var.maximum_instance_count
  instance_memory_in_mb  = var.instance_memory_in_mb

  storage_container_type            = "blobContainer"
  storage_container_endpoint        = local.package_url
  storage_authentication_type       = "UserAssignedIdentity"
  storage_user_assigned_identity_id = azurerm_user_assigned_identity.polaris.id

  https_only                                     = true
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.polaris.id]
  }

  site_config {
    minimum_tls_version                    = "1.2"
    http2_enabled                          = true
    application_insights_connection_string = azurerm_application_insights.polaris.connection_string
  }

  app_settings = local.app_settings

  tags = local.tags

  # The identity needs its roles before the host starts, or the first start fails to read
  # host storage and the queue.
  depends_on = [
    azurerm_role_assignment.host_storage,
    azurerm_role_assignment.queue_receiver,
    azurerm_role_assignment.telemetry,
  ]
}

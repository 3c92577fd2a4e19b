# One user-assigned identity runs everything the app does. Each grant below is scoped to the
# smallest resource that covers its use.

resource "azurerm_user_assigned_identity" "polaris" {
  name                = "id-${var.name_prefix}-${local.suffix}"
  resource_group_name = azurerm_resource_group.polaris.name
  location            = azurerm_resource_group.polaris.location
  tags                = local.tags
}

locals {
  principal_id = azurerm_user_assigned_identity.polaris.principal_id
}

# The API enqueues saga steps and the worker receives them: both on the queue only.
resource "azurerm_role_assignment" "queue_sender" {
  scope                = azurerm_servicebus_queue.deployments.id
  role_definition_name = "Azure Service Bus Data Sender"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "queue_receiver" {
  scope                = azurerm_servicebus_queue.deployments.id
  role_definition_name = "Azure Service Bus Data Receiver"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

# Saga state: read and write blobs in the one container.
resource "azurerm_role_assignment" "state_container" {
  scope = join("/", [
    azurerm_storage_account.state.id, "blobServices/default/containers",
    azurerm_storage_container.state.name,
  ])
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

# Host storage (AzureWebJobsStorage and the Flex package container): the Functions docs
# require Blob Data Owner for identity-based host storage (blob leases for timers).
resource "azurerm_role_assignment" "host_storage" {
  scope                = azurerm_storage_account.host.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

# What the saga creates (resource groups, networks, confidential container groups, vaults).
resource "azurerm_role_assignment" "target_contributor" {
  scope                = local.target_scope
  role_definition_name = "Contributor"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

data "azurerm_role_definition" "release_user" {
  name  = "Key Vault Crypto Service Release User"
  scope = "/subscriptions/${var.subscription_id}"
}

# The saga grants each deployment's workload identity the right to release its key. The
# condition lets this identity create and delete assignments of that one role, to service
# principals only, and nothing else.
resource "azurerm_role_assignment" "grant_key_release" {
  scope                = local.target_scope
  role_definition_name = "User Access Administrator"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
  condition_version    = "2.0"
  condition            = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]
        ForAnyOfAnyValues:GuidEquals {${local.release_role_guid}}
      AND
      @Request[Microsoft.Authorization/roleAssignments:PrincipalType]
        ForAnyOfAnyValues:StringEqualsIgnoreCase {'ServicePrincipal'}
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId]
        ForAnyOfAnyValues:GuidEquals {${local.release_role_guid}}
     )
    )
  EOT
}

locals {
  # The data source returns the full id; conditions compare bare GUIDs.
  release_role_guid = basename(data.azurerm_role_definition.release_user.role_definition_id)
}

# Deployment secrets live in the orchestrator's own vault.
resource "azurerm_role_assignment" "secrets_officer" {
  scope                = azurerm_key_vault.secrets.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

# Entra-authenticated telemetry (local authentication is disabled on Application Insights).
resource "azurerm_role_assignment" "telemetry" {
  scope                = azurerm_application_insights.polaris.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = local.principal_id
  principal_type       = "ServicePrincipal"
}

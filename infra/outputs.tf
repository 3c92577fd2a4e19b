output "resource_group_name" {
  description = "Resource group holding the orchestrator."
  value       = azurerm_resource_group.polaris.name
}

output "function_app_name" {
  description = "Function app to deploy dist/polaris-functions.zip to."
  value       = azurerm_function_app_flex_consumption.polaris.name
}

output "api_base_url" {
  description = "Base URL of the HTTP API (append ?code=<function key>)."
  value       = "https://${azurerm_function_app_flex_consumption.polaris.default_hostname}/api"
}

output "identity_client_id" {
  description = "Client id of the orchestrator's user-assigned identity (AZURE_CLIENT_ID)."
  value       = azurerm_user_assigned_identity.polaris.client_id
}

output "identity_principal_id" {
  description = "Object id of the orchestrator's identity, for extra grants."
  value       = azurerm_user_assigned_identity.polaris.principal_id
}

output "servicebus_namespace" {
  description = "Service Bus namespace FQDN."
  value       = local.servicebus_fqdn
}

output "queue_name" {
  description = "Saga queue."
  value       = azurerm_servicebus_queue.deployments.name
}

output "state_account_url" {
  description = "Blob endpoint for saga state."
  value       = local.state_account_url
}

output "secrets_vault_url" {
  description = "The orchestrator's own Key Vault."
  value       = azurerm_key_vault.secrets.vault_uri
}

output "teardown_topic_endpoint" {
  description = "Custom topic endpoint for teardown requests (CloudEvents 1.0, Entra auth)."
  value       = azurerm_eventgrid_topic.teardown_requests.endpoint
}

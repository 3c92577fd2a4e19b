variable "subscription_id" {
  description = "Subscription that holds the orchestrator's own resources."
  type        = string
}

variable "location" {
  description = "Azure region for every regional resource (must offer Flex Consumption)."
  type        = string
}

variable "name_prefix" {
  description = "Short lowercase prefix for resource names (3-10 letters or digits)."
  type        = string
  default     = "polaris"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,9}$", var.name_prefix))
    error_message = "name_prefix must be 3-10 lowercase letters or digits, starting with a letter."
  }
}

variable "target_scope_id" {
  description = <<-EOT
    Scope where the saga creates deployments (resource groups, container groups, vaults).
    Defaults to the whole subscription; set a management group or subscription id to change it.
  EOT
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "state_replication_type" {
  description = "Replication for the saga state account (geo-redundant: state outlives a region)."
  type        = string
  default     = "GZRS"
}

variable "host_replication_type" {
  description = "Replication for the Functions host account (leases and the package only)."
  type        = string
  default     = "ZRS"
}

variable "queue_name" {
  description = "Service Bus queue carrying one saga step per message."
  type        = string
  default     = "deployments"
}

variable "arm_endpoint" {
  description = "Azure Resource Manager endpoint the saga calls."
  type        = string
  default     = "https://management.azure.com"
}

variable "rotation_schedule" {
  description = "NCRONTAB (6 fields, UTC) for the RotateKeys timer."
  type        = string
  default     = "0 0 3 * * *"
}

variable "sweeper_schedule" {
  description = "NCRONTAB (6 fields, UTC) for the RecoverySweeper timer."
  type        = string
  default     = "0 */5 * * * *"
}

variable "custom_runtime_version" {
  description = <<-EOT
    Flex Consumption runtime version for runtime "custom". Confirm the values offered in
    the region with
    `az functionapp list-flexconsumption-runtimes --location <region> --runtime custom`.
  EOT
  type        = string
  default     = "1.0"
}

variable "maximum_instance_count" {
  description = "Flex Consumption scale-out limit per function group."
  type        = number
  default     = 40
}

variable "instance_memory_in_mb" {
  description = "Flex Consumption instance size (2048 or 4096)."
  type        = number
  default     = 2048
}

variable "log_retention_days" {
  description = "Log Analytics retention."
  type        = number
  default     = 30
}

variable "enable_event_subscriptions" {
  description = <<-EOT
    Create the Event Grid subscriptions that deliver to TeardownOnEvent. Event Grid checks that
    the function exists, so apply once with false, deploy dist/polaris-functions.zip, then
    apply again with true.
  EOT
  type        = bool
  default     = false
}

variable "teardown_publisher_principal_ids" {
  description = "Principals allowed to publish teardown requests to the custom topic."
  type        = list(string)
  default     = []
}

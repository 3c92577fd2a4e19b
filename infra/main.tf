data "azurerm_client_config" "current" {}

locals {
  # Deterministic suffix so globally unique names survive re-applies without a random provider.
  suffix       = substr(sha256("${var.subscription_id}/${var.name_prefix}"), 0, 6)
  target_scope = coalesce(var.target_scope_id, "/subscriptions/${var.subscription_id}")

  tags = merge(var.tags, {
    app        = "polaris"
    managed-by = "terraform"
  })
}

resource "azurerm_resource_group" "polaris" {
  name     = "rg-${var.name_prefix}-${local.suffix}"
  location = var.location
  tags     = local.tags
}

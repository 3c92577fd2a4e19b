//! Read-only views of the simulated world for tests: live resources, soft-deleted vaults
//! and the request log.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::{DeletedVault, Resource, World};
use crate::arm::ids::types;

/// One live resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimResource {
    /// ARM id, casing as last sent.
    pub id: String,
    /// Canonical type, e.g. `Microsoft.Network/virtualNetworks`.
    pub resource_type: String,
    /// Resource tags (role assignments and subnets have none).
    pub tags: BTreeMap<String, String>,
    /// `properties.provisioningState`, if the resource has one.
    pub provisioning_state: Option<String>,
    /// The body GET would return.
    pub body: Value,
}

/// A soft-deleted vault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoftDeletedVault {
    /// Vault name.
    pub name: String,
    /// Location as given at creation.
    pub location: String,
    /// ARM id the vault had.
    pub vault_id: String,
    /// When it was deleted.
    pub deletion_date: OffsetDateTime,
    /// When it will be purged by the service.
    pub scheduled_purge_date: OffsetDateTime,
    /// Purge protection forbids purging before `scheduled_purge_date`.
    pub purge_protection_enabled: bool,
    /// Tags the vault had.
    pub tags: BTreeMap<String, String>,
}

/// One request the sim answered (or dropped).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as sent, without the query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Request body as JSON (non-JSON bodies as a string).
    pub body: Option<Value>,
    /// Status answered; 0 when the connection was reset.
    pub status: u16,
    /// The connection was closed without a response (fault injection).
    pub connection_reset: bool,
    /// Simulated time of the request.
    pub time: OffsetDateTime,
}

pub(crate) fn tags_of(body: &Value) -> BTreeMap<String, String> {
    let Some(tags) = body.get("tags").and_then(Value::as_object) else { return BTreeMap::new() };
    tags.iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), String::from)))
        .collect()
}

impl World {
    pub fn inventory(&self) -> Vec<SimResource> {
        let mut out: Vec<SimResource> = self.resources.values().map(|r| self.view(r)).collect();

        for vault in self.of_type(types::VAULT) {
            let Some(name) = vault.body.get("name").and_then(Value::as_str) else { continue };
            let Some(keys) = self.keys.get(&name.to_ascii_lowercase()) else { continue };
            for key in keys.live() {
                let body = crate::keyvault::arm_view::arm_key(vault, key, None);
                out.push(SimResource {
                    id: body["id"].as_str().unwrap_or_default().to_string(),
                    resource_type: types::VAULT_KEY.to_string(),
                    tags: tags_of(&body),
                    provisioning_state: None,
                    body,
                });
            }
        }
        out
    }

    fn view(&self, r: &Resource) -> SimResource {
        let body = crate::arm::render(self, r);
        SimResource {
            id: r.id.clone(),
            resource_type: r.rtype.clone(),
            tags: tags_of(&body),
            provisioning_state: r.provisioning_state().map(String::from),
            body,
        }
    }

    pub fn soft_deleted_vaults(&self) -> Vec<SoftDeletedVault> {
        self.deleted_vaults.values().map(public_deleted_vault).collect()
    }
}

fn public_deleted_vault(v: &DeletedVault) -> SoftDeletedVault {
    SoftDeletedVault {
        name: v.name.clone(),
        location: v.location.clone(),
        vault_id: v.vault_id.clone(),
        deletion_date: v.deletion_date,
        scheduled_purge_date: v.scheduled_purge_date,
        purge_protection_enabled: v.purge_protection,
        tags: tags_of(&serde_json::json!({ "tags": v.tags })),
    }
}

//! ARM addressing shared by the step builders: api-versions, resource ids, tags, numbers.
//!
//! The api-versions are those of Microsoft's published examples kept in the reference
//! fixtures, so our bodies can be checked against the same schema version.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::{MANAGED_BY_TAG, MANAGED_BY_VALUE, OWNER_TAG};
use crate::ids::DeploymentId;

pub const RESOURCES_API: &str = "2024-03-01";
pub const NETWORK_API: &str = "2024-01-01";
pub const MANAGED_IDENTITY_API: &str = "2023-01-31";
pub const AUTHORIZATION_API: &str = "2022-04-01";
pub const KEY_VAULT_API: &str = "2023-07-01";
pub const CONTAINER_INSTANCE_API: &str = "2023-05-01";
pub const COMPUTE_API: &str = "2024-03-01";

/// Builds ARM ids (without host) inside one subscription and resource group.
#[derive(Clone, Debug)]
pub struct Scope {
    pub subscription_id: String,
    pub resource_group: String,
}

impl Scope {
    pub fn resource_group_id(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/{}", self.subscription_id, self.resource_group)
    }

    /// `/subscriptions/../resourceGroups/../providers/{provider}/{path}`.
    pub fn resource(&self, provider: &str, path: &str) -> String {
        format!("{}/providers/{provider}/{path}", self.resource_group_id())
    }

    /// The same kind of id in another resource group (an existing VNet).
    pub fn in_group(&self, resource_group: &str) -> Self {
        Self {
            subscription_id: self.subscription_id.clone(),
            resource_group: resource_group.into(),
        }
    }
}

/// Our ownership tags plus the user's. The user cannot override ours (validation refuses
/// those keys), and ours are inserted last so they win regardless.
pub fn tags(owner: &DeploymentId, user: &BTreeMap<String, String>) -> Value {
    let mut all = user.clone();
    all.insert(OWNER_TAG.to_owned(), owner.to_string());
    all.insert(MANAGED_BY_TAG.to_owned(), MANAGED_BY_VALUE.to_owned());
    json!(all)
}

/// A JSON number that prints whole values as integers (`1`, not `1.0`), as ARM examples do.
pub fn number(value: f64) -> Value {
    let whole = value.fract() == 0.0 && value.abs() < 1e15;
    if whole {
        // Exact: a whole f64 below 2^53 converts to i64 without loss.
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// `{"port": n, "protocol": "TCP"}`.
pub fn tcp_port(port: u16) -> Value {
    json!({ "port": port, "protocol": "TCP" })
}

//! The simulated world: resources, running operations, soft-deleted vaults and keys.
//!
//! Everything lives behind one mutex and is changed by short, synchronous handlers.
//! Work that needs `.await` (binding container listeners) is queued as [`Effect`]s and run
//! after the lock is released.

pub(crate) mod inventory;
pub(crate) mod operations;

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::arm::ids::{key, types};
use crate::keyvault::store::VaultKeys;
use operations::Operation;

/// A resource as stored. `body` is what GET returns (secrets already stripped).
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub id: String,
    pub rtype: String,
    pub body: Value,
    /// Key of the parent resource (subnet -> virtual network).
    pub parent: Option<String>,
    /// Request body with secrets (container groups), never rendered.
    pub secret: Option<Value>,
    /// Loopback address of a container group's simulated proxy.
    pub ip: Option<Ipv4Addr>,
    /// Operation whose completion updates this resource.
    pub pending_op: Option<String>,
}

impl Resource {
    pub fn new(id: &str, rtype: &str, body: Value) -> Self {
        Self {
            id: id.to_string(),
            rtype: rtype.to_string(),
            body,
            parent: None,
            secret: None,
            ip: None,
            pending_op: None,
        }
    }

    pub fn provisioning_state(&self) -> Option<&str> {
        self.body.pointer("/properties/provisioningState").and_then(Value::as_str)
    }

    pub fn set_provisioning_state(&mut self, state: &str) {
        if let Some(props) = self.body.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert("provisioningState".into(), json!(state));
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.body.get("location").and_then(Value::as_str)
    }
}

/// A vault in the soft-deleted state.
#[derive(Debug, Clone)]
pub(crate) struct DeletedVault {
    pub name: String,
    pub subscription: String,
    pub location: String,
    pub vault_id: String,
    pub tags: Value,
    pub deletion_date: OffsetDateTime,
    pub scheduled_purge_date: OffsetDateTime,
    pub purge_protection: bool,
    /// The vault as it was, restored by `createMode: recover`.
    pub body: Value,
    pub purging: bool,
}

/// Work to do once the world lock is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    StartListener(String),
    StopListener(String),
}

pub(crate) struct World {
    pub resources: BTreeMap<String, Resource>,
    pub operations: HashMap<String, Operation>,
    /// Soft-deleted vaults by lower-case name (vault names are global).
    pub deleted_vaults: BTreeMap<String, DeletedVault>,
    /// Keys by lower-case vault name; kept while the vault is soft-deleted.
    pub keys: HashMap<String, VaultKeys>,
    pub effects: Vec<Effect>,
    rng: StdRng,
}

impl World {
    pub fn new(seed: u64) -> Self {
        Self {
            resources: BTreeMap::new(),
            operations: HashMap::new(),
            deleted_vaults: BTreeMap::new(),
            keys: HashMap::new(),
            effects: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.get(&key(id))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.resources.get_mut(&key(id))
    }

    pub fn insert(&mut self, resource: Resource) {
        self.resources.insert(key(&resource.id), resource);
    }

    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }

    /// 32 hex digits, the shape of Key Vault key versions.
    pub fn hex_id(&mut self) -> String {
        self.uuid().replace('-', "")
    }

    pub fn random_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        self.rng.fill_bytes(&mut bytes);
        bytes
    }

    /// A loopback address other than 127.0.0.x, for one container group.
    pub fn loopback_ip(&mut self) -> Ipv4Addr {
        Ipv4Addr::new(
            127,
            self.rng.random_range(1..=254),
            self.rng.random_range(0..=255),
            self.rng.random_range(2..=254),
        )
    }

    /// Resources of one canonical type.
    pub fn of_type<'a>(&'a self, rtype: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.values().filter(move |r| r.rtype.eq_ignore_ascii_case(rtype))
    }

    /// Live vault with this name, anywhere (vault names are global).
    pub fn vault_by_name(&self, name: &str) -> Option<&Resource> {
        self.of_type(types::VAULT).find(|r| {
            r.body.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    }

    /// Removes a resource and everything under it (children, role assignments scoped to
    /// it), running the per-type hooks: vaults are soft-deleted, container groups release
    /// their subnet link and listener.
    pub fn remove_tree(&mut self, id: &str, now: OffsetDateTime) -> Option<Resource> {
        let root = key(id);
        let prefix = format!("{root}/");
        let doomed: Vec<String> = self
            .resources
            .keys()
            .filter(|k| **k == root || k.starts_with(&prefix))
            .cloned()
            .collect();

        let mut removed_root = None;
        for k in doomed {
            let Some(resource) = self.resources.remove(&k) else { continue };
            self.on_removed(&resource, now);
            if k == root {
                removed_root = Some(resource);
            }
        }
        removed_root
    }

    fn on_removed(&mut self, resource: &Resource, now: OffsetDateTime) {
        let rtype = resource.rtype.as_str();
        if rtype.eq_ignore_ascii_case(types::CONTAINER_GROUP) {
            self.effects.push(Effect::StopListener(key(&resource.id)));
            self.unlink_subnets(&resource.id);
        } else if rtype.eq_ignore_ascii_case(types::VAULT) {
            crate::arm::keyvault::soft_delete(self, resource, now);
        }
    }

    /// Drops the service association links a container group put on subnets.
    pub fn unlink_subnets(&mut self, group_id: &str) {
        for subnet in self.resources.values_mut() {
            if !subnet.rtype.eq_ignore_ascii_case(types::SUBNET) {
                continue;
            }
            let links = subnet.body.pointer_mut("/properties/serviceAssociationLinks");
            if let Some(Value::Array(links)) = links {
                links.retain(|l| {
                    let link = l.pointer("/properties/link").and_then(Value::as_str);
                    !link.is_some_and(|s| s.eq_ignore_ascii_case(group_id))
                });
            }
        }
    }

    /// Role assignments whose principal is one of `principals`.
    pub fn role_assignments_for<'a>(
        &'a self,
        principals: &'a [String],
    ) -> impl Iterator<Item = &'a Resource> + 'a {
        self.of_type(types::ROLE_ASSIGNMENT).filter(move |r| {
            let principal = r.body.pointer("/properties/principalId").and_then(Value::as_str);
            principal.is_some_and(|p| principals.iter().any(|q| q.eq_ignore_ascii_case(p)))
        })
    }

    /// Children of a resource of one type (subnets of a VNet, rules of an NSG), sorted.
    pub fn children(&self, parent_id: &str, rtype: &str) -> Vec<&Resource> {
        let parent = key(parent_id);
        self.resources
            .values()
            .filter(|r| r.parent.as_deref() == Some(parent.as_str()) && r.rtype == rtype)
            .collect()
    }
}

/// Renders a timestamp as ARM does.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_tree_takes_children_and_scoped_role_assignments() {
        let mut world = World::new(1);
        let vnet =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
        let subnet = format!("{vnet}/subnets/a");
        let ra = format!("{vnet}/providers/Microsoft.Authorization/roleAssignments/r1");
        let other =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v2";
        for (id, t) in [
            (vnet, types::VNET),
            (&subnet, types::SUBNET),
            (&ra, types::ROLE_ASSIGNMENT),
            (other, types::VNET),
        ] {
            world.insert(Resource::new(id, t, json!({"properties": {}})));
        }

        let removed = world.remove_tree(&vnet.to_uppercase(), OffsetDateTime::UNIX_EPOCH);

        assert_eq!(removed.map(|r| r.id), Some(vnet.to_string()));
        assert_eq!(world.resources.len(), 1);
        assert!(world.get(other).is_some());
    }

    #[test]
    fn seeded_worlds_generate_the_same_ids() {
        let mut a = World::new(7);
        let mut b = World::new(7);

        assert_eq!(a.uuid(), b.uuid());
        assert_eq!(a.loopback_ip(), b.loopback_ip());
        assert_ne!(a.loopback_ip().octets()[1], 0);
    }
}

//! ARM resource ids: known resource types and parsing of request paths.

/// Canonical type names of the resources the sim implements.
pub(crate) mod types {
    pub const RESOURCE_GROUP: &str = "Microsoft.Resources/resourceGroups";
    pub const VNET: &str = "Microsoft.Network/virtualNetworks";
    pub const SUBNET: &str = "Microsoft.Network/virtualNetworks/subnets";
    pub const SAL_LIST: &str = "Microsoft.Network/virtualNetworks/subnets/ServiceAssociationLinks";
    pub const NSG: &str = "Microsoft.Network/networkSecurityGroups";
    pub const NSG_RULE: &str = "Microsoft.Network/networkSecurityGroups/securityRules";
    pub const PUBLIC_IP: &str = "Microsoft.Network/publicIPAddresses";
    pub const NIC: &str = "Microsoft.Network/networkInterfaces";
    pub const IDENTITY: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";
    pub const VAULT: &str = "Microsoft.KeyVault/vaults";
    pub const VAULT_KEY: &str = "Microsoft.KeyVault/vaults/keys";
    pub const VAULT_KEY_VERSION: &str = "Microsoft.KeyVault/vaults/keys/versions";
    pub const CONTAINER_GROUP: &str = "Microsoft.ContainerInstance/containerGroups";
    pub const CONTAINER: &str = "Microsoft.ContainerInstance/containerGroups/containers";
    pub const VM: &str = "Microsoft.Compute/virtualMachines";
    pub const ROLE_ASSIGNMENT: &str = "Microsoft.Authorization/roleAssignments";
}

const KNOWN_TYPES: &[&str] = &[
    types::VNET,
    types::SUBNET,
    types::SAL_LIST,
    types::NSG,
    types::NSG_RULE,
    types::PUBLIC_IP,
    types::NIC,
    types::IDENTITY,
    types::VAULT,
    types::VAULT_KEY,
    types::VAULT_KEY_VERSION,
    types::CONTAINER_GROUP,
    types::CONTAINER,
    types::VM,
];

/// The canonical spelling of a known resource type, matched case-insensitively.
pub(crate) fn canonical_type(rtype: &str) -> Option<&'static str> {
    KNOWN_TYPES.iter().copied().find(|t| t.eq_ignore_ascii_case(rtype))
}

/// Lookup key of a resource id: ids are case-insensitive.
pub(crate) fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

/// Key of a resource group.
pub(crate) fn group_key(sub: &str, group: &str) -> String {
    key(&format!("/subscriptions/{sub}/resourceGroups/{group}"))
}

/// Normalises a location the way ARM does in URLs ("West Europe" -> "westeurope").
pub(crate) fn short_location(location: &str) -> String {
    location.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase()
}

/// What an ARM request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArmPath {
    Subscription {
        sub: String,
    },
    /// `.../providers/{ns}/locations/{loc}/operations/{id}` (Azure-AsyncOperation target).
    OperationStatus {
        id: String,
    },
    /// `.../operationResults/{id}` (Location target).
    OperationResult {
        id: String,
    },
    ComputeSkus {
        sub: String,
    },
    DeletedVaults {
        sub: String,
    },
    DeletedVault {
        sub: String,
        location: String,
        name: String,
        purge: bool,
    },
    VaultNameCheck {
        sub: String,
    },
    ResourceGroups {
        sub: String,
    },
    ResourceGroup {
        sub: String,
        name: String,
    },
    RoleAssignment {
        scope: String,
        name: Option<String>,
    },
    ServiceAssociationLink {
        subnet_id: String,
    },
    Resource(ResourceRef),
    Unknown,
}

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`, optionally
/// followed by more `/{type}/{name}` pairs and one trailing type or action segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceRef {
    pub sub: String,
    pub group: String,
    pub namespace: String,
    /// Type segments after the namespace, as sent.
    pub types: Vec<String>,
    /// Names, one per type segment except possibly the last.
    pub names: Vec<String>,
}

impl ResourceRef {
    /// `namespace/type[/type]*` as sent.
    pub fn type_path(&self) -> String {
        format!("{}/{}", self.namespace, self.types.join("/"))
    }

    /// The canonical type, if the sim knows it.
    pub fn known_type(&self) -> Option<&'static str> {
        canonical_type(&self.type_path())
    }

    /// True when the path ends in a type segment (a collection, or an action like `restart`).
    pub fn is_collection(&self) -> bool {
        self.names.len() < self.types.len()
    }

    pub fn name(&self) -> &str {
        self.names.last().map(String::as_str).unwrap_or_default()
    }

    pub fn group_key(&self) -> String {
        group_key(&self.sub, &self.group)
    }

    /// Id of the resource addressed by the first `depth` type/name pairs, in canonical case.
    pub fn id_at(&self, depth: usize) -> String {
        let canonical =
            canonical_type(&format!("{}/{}", self.namespace, self.types[..depth].join("/")));
        let mut id =
            format!("/subscriptions/{}/resourceGroups/{}/providers/", self.sub, self.group);
        match canonical {
            Some(c) => id.push_str(c.split('/').next().unwrap_or(&self.namespace)),
            None => id.push_str(&self.namespace),
        }
        let canonical_segments: Vec<&str> =
            canonical.map(|c| c.split('/').skip(1).collect()).unwrap_or_default();
        for i in 0..depth {
            let t = canonical_segments.get(i).copied().unwrap_or(&self.types[i]);
            id.push('/');
            id.push_str(t);
            id.push('/');
            id.push_str(&self.names[i]);
        }
        id
    }

    /// Id of the addressed resource (or of the parent, for a collection).
    pub fn id(&self) -> String {
        self.id_at(self.names.len())
    }
}

pub(crate) fn parse(segments: &[String]) -> ArmPath {
    let seg = |i: usize| segments.get(i).map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    let n = segments.len();

    if let Some(path) = parse_nested_provider(segments) {
        return path;
    }
    if seg(0) != "subscriptions" || n < 2 {
        return ArmPath::Unknown;
    }
    let sub = segments[1].clone();

    match (n, seg(2).as_str()) {
        (2, _) => ArmPath::Subscription { sub },
        (4, "operationresults") => ArmPath::OperationResult { id: segments[3].clone() },
        (3, "resourcegroups") => ArmPath::ResourceGroups { sub },
        (4, "resourcegroups") => ArmPath::ResourceGroup { sub, name: segments[3].clone() },
        (_, "resourcegroups") if n >= 8 && seg(4) == "providers" => {
            let rest = &segments[6..];
            let types = rest.iter().step_by(2).cloned().collect();
            let names = rest.iter().skip(1).step_by(2).cloned().collect();
            ArmPath::Resource(ResourceRef {
                sub,
                group: segments[3].clone(),
                namespace: segments[5].clone(),
                types,
                names,
            })
        }
        (_, "providers") if n >= 5 => parse_subscription_provider(sub, segments),
        _ => ArmPath::Unknown,
    }
}

fn parse_subscription_provider(sub: String, segments: &[String]) -> ArmPath {
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let tail: Vec<&str> = lower[3..].iter().map(String::as_str).collect();

    match tail.as_slice() {
        [_, "locations", _, "operations" | "operationstatuses", _] => {
            ArmPath::OperationStatus { id: segments[7].clone() }
        }
        [_, "locations", _, "operationresults", _] | [_, "operationresults", _] => {
            ArmPath::OperationResult { id: segments[segments.len() - 1].clone() }
        }
        ["microsoft.compute", "skus"] => ArmPath::ComputeSkus { sub },
        ["microsoft.keyvault", "deletedvaults"] => ArmPath::DeletedVaults { sub },
        ["microsoft.keyvault", "checknameavailability"] => ArmPath::VaultNameCheck { sub },
        ["microsoft.keyvault", "locations", _, "deletedvaults", _] => ArmPath::DeletedVault {
            sub,
            location: segments[5].clone(),
            name: segments[7].clone(),
            purge: false,
        },
        ["microsoft.keyvault", "locations", _, "deletedvaults", _, "purge"] => {
            ArmPath::DeletedVault {
                sub,
                location: segments[5].clone(),
                name: segments[7].clone(),
                purge: true,
            }
        }
        _ => ArmPath::Unknown,
    }
}

/// Paths with a second `providers` segment: role assignments at any scope, and the
/// service association link that ACI puts on a subnet.
fn parse_nested_provider(segments: &[String]) -> Option<ArmPath> {
    let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
    let at = lower.iter().rposition(|s| s == "providers")?;
    let namespace = lower.get(at + 1)?;
    let rtype = lower.get(at + 2)?;

    if namespace == "microsoft.authorization" && rtype == "roleassignments" && lower.len() <= at + 4
    {
        let scope = format!("/{}", segments[..at].join("/"));
        let name = segments.get(at + 3).cloned();
        return Some(ArmPath::RoleAssignment { scope, name });
    }
    let is_sal = namespace == "microsoft.containerinstance"
        && rtype == "serviceassociationlinks"
        && at >= 2
        && lower[at - 2] == "subnets";
    if is_sal {
        return Some(ArmPath::ServiceAssociationLink {
            subnet_id: format!("/{}", segments[..at].join("/")),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        path.split('/').filter(|s| !s.is_empty()).map(String::from).collect()
    }

    #[test]
    fn parses_nested_resource_and_builds_canonical_id() {
        let path = segs(
            "/subscriptions/s1/resourcegroups/RG/providers/microsoft.network\
             /VIRTUALNETWORKS/v1/SUBNETS/s1",
        );

        let ArmPath::Resource(r) = parse(&path) else { panic!("not a resource path") };

        assert_eq!(r.known_type(), Some(types::SUBNET));
        assert!(!r.is_collection());
        assert_eq!(
            r.id(),
            "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Network\
             /virtualNetworks/v1/subnets/s1"
        );
        assert_eq!(
            r.id_at(1),
            "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/v1"
        );
    }

    #[test]
    fn parses_role_assignments_at_any_scope() {
        let path = segs(
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv\
             /providers/Microsoft.Authorization/roleAssignments/abc",
        );

        let parsed = parse(&path);

        assert_eq!(
            parsed,
            ArmPath::RoleAssignment {
                scope: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
                    .into(),
                name: Some("abc".into())
            }
        );
    }

    #[test]
    fn parses_operation_and_vault_paths() {
        let op =
            segs("/subscriptions/s/providers/Microsoft.Network/locations/eastus/operations/o1");
        let result = segs("/subscriptions/s/operationresults/o2");
        let purge = segs(
            "/subscriptions/s/providers/Microsoft.KeyVault/locations/westus/deletedVaults/kv/purge",
        );

        assert_eq!(parse(&op), ArmPath::OperationStatus { id: "o1".into() });
        assert_eq!(parse(&result), ArmPath::OperationResult { id: "o2".into() });
        assert!(matches!(parse(&purge), ArmPath::DeletedVault { purge: true, .. }));
        assert_eq!(short_location("West Europe"), "westeurope");
    }
}

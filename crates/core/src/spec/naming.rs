//! Resource names derived from the spec's `name`.
//!
//! The module computed `lower(replace(name, "/[^a-z0-9]/", "-"))`, which turns every
//! upper-case letter into '-' because the replace runs first. We lower-case first.

use sha2::{Digest, Sha256};

use crate::ids::DeploymentId;

/// Longest sanitized base: the container group name `{base}-aci` must fit ACI's 63.
pub const MAX_BASE_LEN: usize = 59;

/// Key Vault names are 3-24 characters.
pub const MAX_VAULT_LEN: usize = 24;

/// Lower-case first, then every character outside `[a-z0-9]` becomes '-', runs of '-'
/// collapse to one, and leading/trailing '-' go.
pub fn sanitize(name: &str) -> String {
    let lowered = name.to_lowercase();
    let mut out = String::with_capacity(lowered.len());
    for c in lowered.chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Names of the resources one deployment creates, all from one sanitized base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceNames {
    pub base: String,
    pub resource_group: String,
    pub container_group: String,
    pub vnet: String,
    pub nsg: String,
    pub identity: String,
    pub key: String,
    pub vm: String,
    pub nic: String,
    pub public_ip: String,
    pub os_disk: String,
}

impl ResourceNames {
    pub fn new(name: &str) -> Self {
        let base = sanitize(name);
        Self {
            resource_group: format!("{base}-rg"),
            container_group: format!("{base}-aci"),
            vnet: format!("{base}-vnet"),
            nsg: format!("{base}-nsg"),
            identity: format!("{base}-id"),
            key: format!("{base}-key"),
            vm: format!("{base}-vm"),
            nic: format!("{base}-nic"),
            public_ip: format!("{base}-pip"),
            os_disk: format!("{base}-osdisk"),
            base,
        }
    }
}

/// The vault name: `{prefix}-{6 hex of sha256(deployment id)}`, at most 24 characters,
/// starting with a letter.
///
/// Vault names are global across all tenants, and soft delete keeps a deleted vault's name
/// reserved for up to 90 days (longer than that with purge protection, which forbids the
/// purge). The module's fixed `{name}-vault` therefore collides on every redeploy after a
/// teardown (field report B01). The suffix comes from the deployment id, so each deployment
/// gets its own name while a retried or resumed deployment keeps the same one.
pub fn vault_name(base: &str, deployment_id: &DeploymentId) -> String {
    let digest = Sha256::digest(deployment_id.as_str().as_bytes());
    let suffix: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();

    let starts_with_letter = base.starts_with(|c: char| c.is_ascii_lowercase());
    let prefix = if starts_with_letter { base.to_owned() } else { format!("kv-{base}") };

    let room = MAX_VAULT_LEN - suffix.len() - 1;
    let prefix: String = prefix.chars().take(room).collect();
    let prefix = prefix.trim_end_matches('-');
    format!("{prefix}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_cases_before_replacing() {
        assert_eq!(sanitize("Polaris Example"), "polaris-example");
        assert_eq!(sanitize("--My__App--"), "my-app");
        assert_eq!(sanitize("ÄBC"), "bc");
        assert_eq!(sanitize("!!!"), "");
    }

    #[test]
    fn names_use_the_base() {
        let names = ResourceNames::new("Polaris Example");
        assert_eq!(names.resource_group, "polaris-example-rg");
        assert_eq!(names.container_group, "polaris-example-aci");
        assert_eq!(names.key, "polaris-example-key");
    }

    #[test]
    fn vault_name_fits_and_differs_per_deployment() {
        let a = DeploymentId::new("dep-aaaa").unwrap();
        let b = DeploymentId::new("dep-bbbb").unwrap();
        let long = "a-very-long-deployment-name-indeed";
        let va = vault_name(long, &a);
        assert!(va.len() <= MAX_VAULT_LEN, "{va}");
        assert!(!va.contains("--"));
        assert_ne!(va, vault_name(long, &b));
        assert_eq!(va, vault_name(long, &a));
        assert!(vault_name("9lives", &a).starts_with("kv-9lives-"));
    }
}

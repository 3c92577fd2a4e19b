//! Seeded deployment specs: every mode and networking type, each carrying secret canaries
//! whose appearance anywhere outside the secret store is a leak.

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

/// One deployment a seed submits, with what the harness does to it.
#[derive(Clone, Debug)]
pub struct PlannedDeployment {
    pub spec: Value,
    /// Secret values in the spec; none may leave the secret store except towards Azure.
    pub canaries: Vec<String>,
    /// Request a teardown after this many handled messages (a cancel mid-flight, or a
    /// teardown once it succeeded).
    pub teardown_after: Option<usize>,
}

/// Builds deployment `index` of `seed`.
pub fn deployment(rng: &mut StdRng, seed: u64, index: usize) -> PlannedDeployment {
    let enhanced = rng.random_bool(0.5);
    let private = rng.random_bool(0.4);
    let new_vnet = private || rng.random_bool(0.5);
    let mut planned = spec(enhanced, private, new_vnet, &format!("{seed:x}-{index}"), index);
    planned.teardown_after = match rng.random_range(0..10) {
        0..=2 => Some(rng.random_range(1..40)),
        3..=4 => Some(usize::MAX),
        _ => None,
    };
    planned
}

/// A spec of the given shape; `tag` makes names and canaries unique, `index` picks an
/// address range so deployments of one run do not overlap.
pub fn spec(
    enhanced: bool,
    private: bool,
    new_vnet: bool,
    tag: &str,
    index: usize,
) -> PlannedDeployment {
    let env_canary = format!("canary-env-{tag}-7f3a");
    let registry_canary = format!("canary-reg-{tag}-91c2");
    let third_octet = 10 + index % 200;

    let mut spec = json!({
        "name": format!("chaos-{index}-{}", if enhanced { "enh" } else { "std" }),
        "location": "westeurope",
        "subscription_id": "00000000-0000-0000-0000-00000000c4a0",
        "enable_key_vault": enhanced,
        "networking_type": if private { "Private" } else { "Public" },
        "new_vnet_enabled": new_vnet,
        "vnet_address_space": [format!("10.{third_octet}.0.0/16")],
        "subnet_address_prefix": format!("10.{third_octet}.1.0/24"),
        "container_cpu": 1,
        "container_memory": 2,
        "workload_image": "chaosregistry.azurecr.io/workload:1.0.0",
        "workload_port": 8000,
        "registry_login_server": "chaosregistry.azurecr.io",
        "registry_username": "chaos",
        "registry_password": registry_canary,
        "workload_env_vars": {
            "LOG_LEVEL": "info",
            "API_KEY": { "value": env_canary, "secret": true }
        }
    });
    if !private {
        spec["dns_name_label"] = json!(format!("chaos-{tag}"));
    }
    PlannedDeployment { spec, canaries: vec![env_canary, registry_canary], teardown_after: None }
}

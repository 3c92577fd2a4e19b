//! How a simulator instance is set up: clock, latencies, faults, identity of the tenant.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{SimClock, SystemClock};
use crate::faults::FaultPlan;

/// Settings for one simulator instance.
#[derive(Clone)]
pub struct SimConfig {
    /// How long operations take, per operation kind.
    pub latency: LatencyProfile,
    /// Faults to inject; can be changed later through [`crate::SimHandle::faults`].
    pub faults: FaultPlan,
    /// Tenant reported in identities and in `WWW-Authenticate` challenges.
    pub tenant_id: String,
    /// Seed for generated ids, addresses and key material, so runs are reproducible.
    pub seed: u64,
    /// Source of "now" for LRO completion, timestamps and purge dates.
    pub clock: Arc<dyn SimClock>,
    /// Loopback address of the HTTPS listener; anything else is refused.
    pub bind_ip: IpAddr,
    /// Port of the HTTPS listener; 0 picks a free one.
    pub port: u16,
    /// Resource SKUs served by `GET .../providers/Microsoft.Compute/skus`.
    pub vm_skus: Vec<VmSku>,
    /// Start a real HTTP listener per container group that reaches `Succeeded`.
    pub container_listeners: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            latency: LatencyProfile::default(),
            faults: FaultPlan::default(),
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_string(),
            seed: 0x5eed,
            clock: Arc::new(SystemClock),
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            vm_skus: VmSku::defaults(),
            container_listeners: true,
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("latency", &self.latency)
            .field("faults", &self.faults)
            .field("tenant_id", &self.tenant_id)
            .field("seed", &self.seed)
            .field("bind_ip", &self.bind_ip)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Timing of one kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpTiming {
    /// Simulated time from the request until the long-running operation completes.
    #[serde(default)]
    pub lro_ms: u64,
    /// Real time the server waits before answering the request.
    #[serde(default)]
    pub delay_ms: u64,
}

impl OpTiming {
    /// An operation that completes `lro` after it starts and answers without delay.
    pub fn lro(lro: Duration) -> Self {
        Self { lro_ms: lro.as_millis() as u64, delay_ms: 0 }
    }
}

/// Per-operation timings, keyed like `"Microsoft.ContainerInstance/containerGroups:PUT"`.
///
/// Keys are matched case-insensitively. A key may also name a whole provider
/// (`"Microsoft.Network:PUT"`) or a method alone (`"*:DELETE"`); the most specific wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyProfile {
    /// Timing used when no key matches.
    #[serde(default)]
    pub default: OpTiming,
    /// Timings per operation kind.
    #[serde(default)]
    pub operations: BTreeMap<String, OpTiming>,
    /// `Retry-After` seconds sent on polling responses; `None` sends no header.
    #[serde(default)]
    pub poll_retry_after: Option<u64>,
}

impl LatencyProfile {
    /// Every operation completes on the next poll.
    pub fn instant() -> Self {
        Self::default()
    }

    /// Latencies in the order of magnitude Azure shows, for demos with the CLI.
    pub fn realistic() -> Self {
        let secs = |s: u64| OpTiming::lro(Duration::from_secs(s));
        let operations = [
            ("Microsoft.Network:PUT", secs(3)),
            ("Microsoft.Network:DELETE", secs(5)),
            ("Microsoft.KeyVault/vaults:PUT", secs(4)),
            ("Microsoft.ContainerInstance/containerGroups:PUT", secs(30)),
            ("Microsoft.ContainerInstance/containerGroups:DELETE", secs(10)),
            ("Microsoft.Compute/virtualMachines:PUT", secs(60)),
            ("Microsoft.Compute/virtualMachines:DELETE", secs(30)),
            ("Microsoft.Resources/resourceGroups:DELETE", secs(20)),
            ("Microsoft.KeyVault/deletedVaults:POST", secs(5)),
        ];
        let operations = operations.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Self { default: OpTiming::default(), operations, poll_retry_after: Some(1) }
    }

    /// Sets the timing of one operation kind.
    pub fn with(mut self, key: &str, timing: OpTiming) -> Self {
        self.operations.insert(key.to_string(), timing);
        self
    }

    /// Timing for `"{namespace}/{type}:{METHOD}"`, falling back to broader keys.
    pub fn timing(&self, op_key: &str) -> OpTiming {
        let (rtype, method) = op_key.split_once(':').unwrap_or((op_key, ""));
        let namespace = rtype.split('/').next().unwrap_or(rtype);
        let candidates = [
            op_key.to_string(),
            rtype.to_string(),
            format!("{namespace}:{method}"),
            namespace.to_string(),
            format!("*:{method}"),
        ];

        for candidate in candidates {
            let found = self.operations.iter().find(|(k, _)| k.eq_ignore_ascii_case(&candidate));
            if let Some((_, timing)) = found {
                return *timing;
            }
        }
        self.default
    }
}

/// One entry of the resource-SKU list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSku {
    /// e.g. `Standard_NCC40ads_H100_v5`.
    pub name: String,
    /// e.g. `standardNCCadsH100v5Family`.
    pub family: String,
    /// Regions (ARM short names) that offer the size.
    pub locations: Vec<String>,
    /// Capabilities as name/value pairs (`vCPUs`, `ConfidentialComputingType`, ...).
    pub capabilities: BTreeMap<String, String>,
}

impl VmSku {
    /// The confidential sizes our orchestrator uses, with the regions Azure offered them in.
    pub fn defaults() -> Vec<Self> {
        let caps = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        vec![
            Self {
                name: "Standard_NCC40ads_H100_v5".into(),
                family: "standardNCCadsH100v5Family".into(),
                locations: vec!["eastus2".into(), "westeurope".into()],
                capabilities: caps(&[
                    ("vCPUs", "40"),
                    ("MemoryGB", "320"),
                    ("GPUs", "1"),
                    ("ConfidentialComputingType", "SNP"),
                ]),
            },
            Self {
                name: "Standard_DC4as_v5".into(),
                family: "standardDCASv5Family".into(),
                locations: vec![
                    "eastus".into(),
                    "eastus2".into(),
                    "westus".into(),
                    "westeurope".into(),
                    "northeurope".into(),
                ],
                capabilities: caps(&[
                    ("vCPUs", "4"),
                    ("MemoryGB", "16"),
                    ("ConfidentialComputingType", "SNP"),
                ]),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_prefers_the_most_specific_key() {
        let profile = LatencyProfile::default()
            .with("Microsoft.Network:PUT", OpTiming { lro_ms: 10, delay_ms: 0 })
            .with("microsoft.network/virtualnetworks:put", OpTiming { lro_ms: 20, delay_ms: 1 })
            .with("*:DELETE", OpTiming { lro_ms: 30, delay_ms: 0 });

        assert_eq!(profile.timing("Microsoft.Network/virtualNetworks:PUT").lro_ms, 20);
        assert_eq!(profile.timing("Microsoft.Network/publicIPAddresses:PUT").lro_ms, 10);
        assert_eq!(profile.timing("Microsoft.Network/publicIPAddresses:DELETE").lro_ms, 30);
        assert_eq!(profile.timing("Microsoft.Compute/virtualMachines:PUT").lro_ms, 0);
    }

    #[test]
    fn latency_profile_round_trips_through_json() {
        let profile = LatencyProfile::realistic();

        let json = serde_json::to_string(&profile).unwrap();
        let back: LatencyProfile = serde_json::from_str(&json).unwrap();

        assert_eq!(back, profile);
    }
}

//! Seeded Azure faults and latencies for the simulator.

use std::time::Duration;

use polaris_sim::{
    AfterWrite, Fault, FaultPlan, FaultRule, LatencyProfile, Occurrence, OpTiming, PathPattern,
    RequestMatcher,
};
use rand::Rng;
use rand::rngs::StdRng;

/// Paths our deployments write, so every fault lands on something a saga step does.
const TARGETS: &[(&str, &str)] = &[
    ("PUT", RG),
    ("PUT", "(?i)/virtualnetworks/[^/]+$"),
    ("PUT", "(?i)/subnets/[^/]+$"),
    ("PUT", "(?i)/networksecuritygroups/[^/]+$"),
    ("PUT", VAULT),
    ("PUT", "(?i)/vaults/[^/]+/keys/[^/]+$"),
    ("PUT", "(?i)/roleassignments/"),
    ("PUT", GROUP),
    ("GET", GROUP),
    ("GET", "(?i)operation"),
    ("DELETE", RG),
    ("DELETE", GROUP),
    ("DELETE", VAULT),
    ("DELETE", "(?i)/virtualnetworks/[^/]+$"),
];

const RG: &str = "(?i)/resourcegroups/[^/]+$";
const VAULT: &str = "(?i)/vaults/[^/]+$";
const GROUP: &str = "(?i)/containergroups/[^/]+$";

/// A fault plan of a few rules, each firing on a few occurrences of one request kind.
pub fn plan(rng: &mut StdRng) -> FaultPlan {
    let mut plan = FaultPlan::default();
    for _ in 0..rng.random_range(0..6) {
        let (method, path) = TARGETS[rng.random_range(0..TARGETS.len())];
        let fault = fault(rng, method, path);
        let matcher = RequestMatcher {
            method: Some(method.into()),
            path: PathPattern::Regex(path.into()),
            occurrence: Occurrence::Nth(rng.random_range(1..4)),
        };
        plan = plan.with(FaultRule { matcher, fault, times: Some(1) });
    }
    plan
}

fn fault(rng: &mut StdRng, method: &str, path: &str) -> Fault {
    let status = |status: u16, code: &str, retry_after: Option<u64>| Fault::Status {
        status,
        code: code.into(),
        message: format!("chaos: {code}"),
        retry_after,
    };
    match rng.random_range(0..11) {
        0 => status(429, "TooManyRequests", Some(rng.random_range(1..120))),
        1 => status(500, "InternalServerError", None),
        2 => status(503, "ServiceUnavailable", Some(rng.random_range(1..30))),
        3 => Fault::ResetConnection,
        4 => Fault::AfterWrite { then: AfterWrite::ResetConnection },
        5 => Fault::AfterWrite {
            then: AfterWrite::Status {
                status: 504,
                code: "GatewayTimeout".into(),
                message: "chaos: the write took effect, the answer was lost".into(),
                retry_after: None,
            },
        },
        6 => status(409, "AnotherOperationInProgress", Some(rng.random_range(1..20))),
        7 if method == "PUT" && path == GROUP => Fault::LroFails {
            code: "InsufficientCapacity".into(),
            message: "The requested resource is not available in the location 'westeurope' \
                      at this moment."
                .into(),
        },
        7 | 8 if method == "PUT" => Fault::LroFails {
            code: "InternalServerError".into(),
            message: "chaos: the operation failed".into(),
        },
        // Permanent failures: the saga must compensate and leave nothing behind.
        9 if method == "PUT" => status(400, "InvalidRequestContent", None),
        10 if method == "PUT" && path == GROUP => Fault::LroFails {
            code: "ContainerGroupDeploymentFailed".into(),
            message: "container creation denied by policy: invalid env list: \
                      APP_IDENTITY_ENDPOINT"
                .into(),
        },
        _ => status(503, "ServiceUnavailable", None),
    }
}

/// Latencies near Azure's, with seeded spread so long-running operations stay in progress
/// for a seed-dependent while before finishing.
pub fn latency(rng: &mut StdRng) -> LatencyProfile {
    let mut secs = |base: u64| {
        let spread = rng.random_range(0..base);
        OpTiming::lro(Duration::from_secs(base + spread))
    };
    LatencyProfile::realistic()
        .with("Microsoft.Network:PUT", secs(3))
        .with("Microsoft.Network:DELETE", secs(5))
        .with("Microsoft.KeyVault/vaults:PUT", secs(4))
        .with("Microsoft.ContainerInstance/containerGroups:PUT", secs(30))
        .with("Microsoft.ContainerInstance/containerGroups:DELETE", secs(10))
        .with("Microsoft.Resources/resourceGroups:DELETE", secs(20))
}

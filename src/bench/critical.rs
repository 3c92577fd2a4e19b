//! Deployment wall time against the critical path of the plan's dependency graph, ARM
//! requests per deployment, and polls earlier than `Retry-After`.
//!
//! Runs in virtual time: each long-running operation costs its simulated Azure latency and
//! nothing else costs time, so the ratio shows what the saga's scheduling adds (poll
//! granularity, serialisation of independent branches) on top of Azure's own latencies.

use std::collections::BTreeMap;
use std::time::Duration;

use polaris_core::ids::StepName;
use polaris_core::plan::model::{Plan, StepKind};
use polaris_core::saga::SagaConfig;
use polaris_sim::{Fault, FaultPlan, FaultRule, LatencyProfile, LoggedRequest};

use crate::chaos::Harness;
use crate::chaos::specs::PlannedDeployment;

/// `Retry-After` the throttling fault of the request-count run sends.
pub const THROTTLE_RETRY_AFTER: u64 = 17;

#[derive(Clone, Debug)]
pub struct CriticalPathRun {
    pub wall: Duration,
    pub critical_path: Duration,
    pub arm_requests: usize,
    pub early_polls: usize,
    pub status: String,
}

/// Simulated latency of the operation a step starts: PUT of its resource type.
fn step_cost(latency: &LatencyProfile, kind: &StepKind) -> Duration {
    let id = match kind {
        StepKind::Arm(arm) => &arm.id,
        StepKind::Vault(v) => &v.arm.id,
        StepKind::Key(k) => &k.arm.id,
        StepKind::Verify(_) | StepKind::HealthCheck(_) => return Duration::ZERO,
    };
    Duration::from_millis(latency.timing(&format!("{}:PUT", type_path(id))).lro_ms)
}

/// `Microsoft.Network/virtualNetworks/subnets` from an ARM id.
pub fn type_path(id: &str) -> String {
    let segments: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    let Some(p) = segments.iter().rposition(|s| s.eq_ignore_ascii_case("providers")) else {
        return "Microsoft.Resources/resourceGroups".to_owned();
    };
    let rest = &segments[p + 1..];
    let mut out = rest.first().copied().unwrap_or_default().to_owned();
    for ty in rest.iter().skip(1).step_by(2) {
        out.push('/');
        out.push_str(ty);
    }
    out
}

/// Longest path through the dependency graph, each step weighted by its latency.
pub fn critical_path(plan: &Plan, latency: &LatencyProfile) -> Duration {
    let mut finish: BTreeMap<&StepName, Duration> = BTreeMap::new();
    let order = polaris_core::saga::topological_order(plan).expect("plans are acyclic");
    for name in &order {
        let step = plan.step(name).expect("ordered steps exist");
        let start = step.depends_on.iter().filter_map(|d| finish.get(d)).max().copied();
        let cost = step_cost(latency, &step.kind);
        finish.insert(&step.name, start.unwrap_or_default() + cost);
    }
    finish.values().max().copied().unwrap_or_default()
}

/// Requests sent before the `Retry-After` the previous answer on the same path asked for:
/// polls of one operation closer than `poll_gap`, or a retry within `THROTTLE_RETRY_AFTER`
/// of a 429.
pub fn early_polls(log: &[LoggedRequest], poll_gap: Duration) -> usize {
    let mut not_before: BTreeMap<String, time::OffsetDateTime> = BTreeMap::new();
    let mut early = 0;
    for r in log {
        let key = format!("{} {}", r.method, r.path.to_ascii_lowercase());
        if not_before.get(&key).is_some_and(|at| r.time < *at) {
            early += 1;
        }
        let gap = match (r.status, r.method.as_str()) {
            (429, _) => Duration::from_secs(THROTTLE_RETRY_AFTER),
            (200 | 202, "GET") => poll_gap,
            _ => Duration::ZERO,
        };
        not_before.insert(key, r.time + gap);
    }
    early
}

/// Deploys `planned` once in virtual time with `latency`; `throttle` adds a 429 with
/// `Retry-After: 17` on the first container group PUT.
pub async fn run(
    planned: &PlannedDeployment,
    latency: LatencyProfile,
    throttle: bool,
) -> CriticalPathRun {
    let mut faults = FaultPlan::default();
    if throttle {
        let fault = Fault::Status {
            status: 429,
            code: "TooManyRequests".into(),
            message: "Rate limit".into(),
            retry_after: Some(THROTTLE_RETRY_AFTER),
        };
        faults = faults.with(FaultRule::on("/containerGroups/", fault).method("PUT").times(1));
    }
    let poll_gap = Duration::from_secs(latency.poll_retry_after.unwrap_or(0));
    // The embedded runtime's poll interval when Azure sends no `Retry-After`.
    let saga = SagaConfig { default_poll_secs: 1, ..SagaConfig::default() };
    let mut h = Harness::start_with(latency.clone(), faults, None, saga).await;
    h.world.sim.clear_request_log();
    let id = h.submit(planned).await;
    h.drive().await;

    let state = h.state(&id).await;
    let plan = h.world.app.deployments.plan_of(&state).expect("the plan rebuilds");
    let done = state.history.last().map_or(state.created_at, |e| e.at);
    let log = h.world.sim.request_log();
    if std::env::var_os("POLARIS_BENCH_HISTORY").is_some() {
        for e in &state.history {
            let step = e.step.as_ref().map_or("-", |s| s.as_str());
            eprintln!("{} {step} {} {}", e.at - state.created_at, e.event, e.detail);
        }
    }
    CriticalPathRun {
        wall: Duration::try_from(done - state.created_at).unwrap_or_default(),
        critical_path: critical_path(&plan, &latency),
        arm_requests: log.len(),
        early_polls: early_polls(&log, poll_gap),
        status: state.status.as_str().to_owned(),
    }
}

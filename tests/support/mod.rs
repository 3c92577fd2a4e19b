//! Harness shared by the end-to-end tests: the embedded runtime in virtual time with the
//! memory store, helpers to submit and drive a deployment, and readers over the simulator's
//! inventory and request log.
//!
//! Every test file uses only part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod b64;
pub mod faults;
pub mod log;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use polaris::app::App;
use polaris::clock::VirtualClock;
use polaris::runtime::{EmbeddedRuntime, RuntimeOptions, StateBackend, TimeMode};
use polaris::worker::{CrashHook, CrashPoint, Worker};
use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::plan::Plan;
use polaris_core::plan::model::{OWNER_TAG, StepKind};
use polaris_core::saga::{SagaConfig, SagaState, WorkItem};
use polaris_sim::{FaultPlan, LatencyProfile, SimHandle, SimResource};
use serde_json::Value;

/// Tenant of the vaults the runtime creates (the runtime's default).
pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// More messages than any deployment here needs; a run that hits it is a livelock.
const MAX_MESSAGES: usize = 5_000;

/// Saga tunables used by every test unless it says otherwise, so deadlines and delays in
/// assertions are the ones written here.
pub fn saga_config() -> SagaConfig {
    SagaConfig {
        max_attempts: 4,
        max_undo_attempts: 3,
        base_backoff_secs: 2,
        max_backoff_secs: 60,
        default_poll_secs: 5,
        capacity_retry_delay_secs: 120,
        max_capacity_retries: 2,
    }
}

/// What a test may change about the runtime.
#[derive(Clone, Debug)]
pub struct Setup {
    pub saga: SagaConfig,
    pub faults: FaultPlan,
    pub latency: LatencyProfile,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            saga: saga_config(),
            faults: FaultPlan::default(),
            latency: LatencyProfile::instant(),
        }
    }
}

/// A runtime in virtual time over the memory store, and the clock that drives it.
pub struct Harness {
    pub rt: EmbeddedRuntime,
    pub clock: Arc<VirtualClock>,
}

pub async fn start(setup: Setup) -> Harness {
    let clock = Arc::new(VirtualClock::new());
    let opts = RuntimeOptions {
        state: StateBackend::Memory,
        time: TimeMode::Virtual(clock.clone()),
        latency: setup.latency,
        faults: setup.faults,
        saga: setup.saga,
        tenant_id: TENANT.to_owned(),
        ..RuntimeOptions::default()
    };
    let rt = EmbeddedRuntime::start(opts).await.expect("the embedded runtime starts");
    Harness { rt, clock }
}

impl Harness {
    pub fn sim(&self) -> &SimHandle {
        &self.rt.sim
    }

    /// Accepts `spec` under an idempotency key, so its deployment id is the same in every
    /// runtime of a test (and so are the names derived from it).
    pub async fn submit(&self, spec: &Value, key: &str) -> SagaState {
        let submitted = self.rt.app.deployments.submit(spec, Some(key)).await;
        submitted.unwrap_or_else(|e| panic!("spec rejected: {e}"))
    }

    /// Handles messages, jumping virtual time, until the queue is empty.
    pub async fn run(&self) {
        let handled = self.rt.drive_virtual(MAX_MESSAGES).await;
        assert!(handled < MAX_MESSAGES, "the saga did not come to rest");
    }

    /// Like [`Self::run`], but every message is delivered twice: the queue hands out a
    /// second copy while the first is still locked, as a broker may after a lock loss.
    pub async fn run_with_duplicates(&self) {
        for _ in 0..MAX_MESSAGES {
            // The twin sits right behind its original, so arming every other delivery
            // duplicates each message exactly once.
            self.rt.queue.duplicate_next_delivery(None);
            if self.rt.drive_virtual(1).await == 0 {
                return;
            }
            if self.rt.drive_virtual(1).await == 0 {
                return;
            }
        }
        panic!("the saga did not come to rest");
    }

    pub async fn deploy(&self, spec: &Value, key: &str) -> SagaState {
        let accepted = self.submit(spec, key).await;
        self.run().await;
        self.state(&accepted.deployment_id).await
    }

    pub async fn state(&self, id: &DeploymentId) -> SagaState {
        self.rt.state(id).await.expect("the deployment is stored")
    }

    pub fn plan(&self, state: &SagaState) -> Plan {
        self.rt.app.deployments.plan_of(state).expect("the stored spec plans")
    }

    /// Live resources carrying this deployment's ownership tag.
    pub fn tagged(&self, id: &DeploymentId) -> Vec<SimResource> {
        self.sim().inventory().into_iter().filter(|r| owned_by(r, id)).collect()
    }

    /// Live resources inside `resource_group` (any owner, tags or not).
    pub fn in_group(&self, resource_group: &str) -> Vec<SimResource> {
        let marker = format!("/resourcegroups/{}/", resource_group.to_ascii_lowercase());
        let rg_id_end = format!("/resourcegroups/{}", resource_group.to_ascii_lowercase());
        self.sim()
            .inventory()
            .into_iter()
            .filter(|r| {
                let id = r.id.to_ascii_lowercase();
                id.contains(&marker) || id.ends_with(&rg_id_end)
            })
            .collect()
    }

    /// Rebuilds the app with a worker that consults `hook` (the runtime starts without one).
    pub fn install_crash_hook(&mut self, hook: Arc<dyn CrashHook>) {
        let old = &self.rt.app.worker;
        let worker = Worker {
            store: old.store.clone(),
            secrets: old.secrets.clone(),
            sender: old.sender.clone(),
            executor: old.executor.clone(),
            clock: old.clock.clone(),
            saga: old.saga.clone(),
            lease_secs: old.lease_secs,
            action_timeout: old.action_timeout,
            metrics: old.metrics.clone(),
            crash: Some(hook),
        };
        let tenant = self.rt.app.deployments.tenant_id.clone();
        self.rt.app = Arc::new(App::new(Arc::new(worker), tenant));
    }
}

pub fn owned_by(resource: &SimResource, id: &DeploymentId) -> bool {
    resource.tags.get(OWNER_TAG).map(String::as_str) == Some(id.as_str())
}

/// Crashes the handler once per (step, phase) at `point`, so redelivery re-runs the step.
#[derive(Default)]
pub struct CrashOncePerStep {
    pub point: Option<CrashPoint>,
    crashed: Mutex<HashSet<(String, &'static str)>>,
}

impl CrashOncePerStep {
    pub fn at(point: CrashPoint) -> Arc<Self> {
        Arc::new(Self { point: Some(point), crashed: Mutex::default() })
    }

    /// The (step, phase) pairs that crashed.
    pub fn crashed(&self) -> HashSet<(String, &'static str)> {
        self.crashed.lock().expect("not poisoned").clone()
    }
}

impl CrashHook for CrashOncePerStep {
    fn crash_at(&self, item: &WorkItem, point: CrashPoint) -> bool {
        if self.point != Some(point) {
            return false;
        }
        let key = (item.step.to_string(), item.phase.as_str());
        self.crashed.lock().expect("not poisoned").insert(key)
    }
}

/// A spec from `examples/`.
pub fn example(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
    let text = std::fs::read_to_string(&path).expect("example spec exists");
    serde_json::from_str(&text).expect("example spec is JSON")
}

/// `spec` with `changes` (a JSON object) merged over its top level.
pub fn with(mut spec: Value, changes: Value) -> Value {
    let target = spec.as_object_mut().expect("spec is an object");
    for (k, v) in changes.as_object().expect("changes are an object") {
        target.insert(k.clone(), v.clone());
    }
    spec
}

/// The ARM id of a planned step's resource (ARM, vault or key steps).
pub fn resource_id(plan: &Plan, step: &str) -> Option<String> {
    let planned = plan.step(&StepName::new(step))?;
    match &planned.kind {
        StepKind::Arm(r) => Some(r.id.clone()),
        StepKind::Vault(v) => Some(v.arm.id.clone()),
        StepKind::Key(k) => Some(k.arm.id.clone()),
        StepKind::Verify(v) => Some(v.id.clone()),
        StepKind::HealthCheck(_) => None,
    }
}

/// Last path segment of an ARM id.
pub fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Step names of the plan, in plan order.
pub fn step_names(plan: &Plan) -> Vec<String> {
    plan.steps.iter().map(|s| s.name.to_string()).collect()
}

/// History events of one step, in order.
pub fn events_of(state: &SagaState, step: &str) -> Vec<String> {
    state
        .history
        .iter()
        .filter(|h| h.step.as_ref().is_some_and(|s| s.as_str() == step))
        .map(|h| h.event.clone())
        .collect()
}

/// Step statuses by name, for comparing end states.
pub fn step_statuses(state: &SagaState) -> BTreeMap<String, String> {
    state.steps.iter().map(|(name, st)| (name.to_string(), format!("{:?}", st.status))).collect()
}

/// Undo attempts of [`saga_config`], before a deployment is declared stuck.
pub fn config_undo_attempts() -> u32 {
    saga_config().max_undo_attempts
}

/// The history as one line per entry, for assertion messages.
pub fn history(state: &SagaState) -> String {
    let mut out = String::new();
    for h in &state.history {
        let step = h.step.as_ref().map_or("-", |s| s.as_str());
        let phase = h.phase.map_or("-", |p| p.as_str());
        let at = (h.at - polaris::clock::VIRTUAL_EPOCH).whole_seconds();
        let (attempt, event, detail) = (h.attempt, &h.event, &h.detail);
        out.push_str(&format!("\n  t+{at}s {step}/{phase}#{attempt} {event} {detail}"));
    }
    out
}

/// `sha256:` and 64 copies of `c`: a well-formed digest.
pub fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// The enhanced example with a CCE policy (base64 as given) and every image pinned by digest,
/// as a CCE policy requires (B07).
pub fn cce_spec(cce_policy_base64: &str) -> Value {
    let changes = serde_json::json!({
        "cce_policy": cce_policy_base64,
        "workload_image": format!("your-registry.azurecr.io/your-workload@{}", digest('a')),
        "polaris_proxy_image_version": digest('b'),
        "skr_sidecar_image": format!("mcr.microsoft.com/aci/skr@{}", digest('c')),
    });
    with(example("enhanced.json"), changes)
}

/// The decoded JSON of a key body's `properties.release_policy.data` (ARM key bodies).
pub fn release_policy_of(key_body: &Value) -> Option<Value> {
    let data = key_body.pointer("/properties/release_policy/data")?.as_str()?;
    let bytes = b64::decode(data)?;
    serde_json::from_slice(&bytes).ok()
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

//! Running one seed end to end and checking the invariants.

use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_core::saga::{SagaConfig, SagaState};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::driver::{DriveStats, Driver, Mischief, TeardownPlan};
use super::invariants::{self as inv, Violation};
use super::logs::LogBuffer;
use super::observe::Observer;
use super::world::{SeededCrashes, World, WorldOptions};
use super::{faults, specs};
use crate::clock::Clock;

/// The subscription every chaos deployment and every foreign resource lives in.
const SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000c4a0";

/// Knobs of a batch; the defaults are what CI runs.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    /// Deployments per seed: 1 to this many.
    pub max_deployments: usize,
    pub mischief: Mischief,
    /// Chance of a crash at each crash point.
    pub crash_probability: f64,
    /// Every deployment must be terminal within this much simulated time.
    pub bound_secs: i64,
    pub max_messages: usize,
    /// Capture tracing output for the canary check (costs time).
    pub capture_logs: bool,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        Self {
            max_deployments: 3,
            mischief: Mischief::default(),
            crash_probability: 0.03,
            bound_secs: 6 * 3600,
            max_messages: 4000,
            capture_logs: true,
        }
    }
}

impl ChaosConfig {
    /// Five times the crashes and about three times the delivery mischief of the CI batch,
    /// for bug hunting (`POLARIS_CHAOS_PROFILE=hostile polaris chaos ...`).
    pub fn hostile() -> Self {
        let mischief = Mischief { delay: 0.2, race: 0.1, duplicate: 0.15 };
        Self { mischief, crash_probability: 0.15, ..Self::default() }
    }
}

/// What one seed did and what broke.
#[derive(Clone, Debug)]
pub struct SeedReport {
    pub seed: u64,
    pub violations: Vec<Violation>,
    pub stats: DriveStats,
    pub crashes: u64,
    pub dead_letters: usize,
    /// Final status of each deployment.
    pub statuses: Vec<String>,
    pub simulated: Duration,
    pub elapsed: Duration,
    /// Bytes of tracing output captured (and searched for canaries).
    pub log_bytes: usize,
}

impl SeedReport {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs one seed on a fresh single-threaded runtime with its own log capture.
pub fn run_seed_blocking(seed: u64, cfg: &ChaosConfig) -> SeedReport {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts");
    let logs = LogBuffer::default();
    let _guard = cfg.capture_logs.then(|| tracing::subscriber::set_default(logs.subscriber()));
    runtime.block_on(run_seed(seed, cfg, &logs))
}

/// Runs seeds `from..from + count` on `threads` OS threads; reports in seed order.
pub fn run_batch(from: u64, count: u64, threads: usize, cfg: &ChaosConfig) -> Vec<SeedReport> {
    let threads = threads.max(1) as u64;
    let mut reports: Vec<SeedReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (from + t..from + count)
                        .step_by(threads as usize)
                        .map(|seed| run_seed_blocking(seed, cfg))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("a seed thread panicked")).collect()
    });
    reports.sort_by_key(|r| r.seed);
    reports
}

/// Runs one seed inside the caller's runtime; logs go wherever `logs` was installed.
pub async fn run_seed(seed: u64, cfg: &ChaosConfig, logs: &LogBuffer) -> SeedReport {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let crashes = Arc::new(SeededCrashes::new(seed, cfg.crash_probability));
    let opts = WorldOptions {
        seed,
        latency: faults::latency(&mut rng),
        faults: faults::plan(&mut rng),
        saga: SagaConfig { default_poll_secs: 5, ..SagaConfig::default() },
        crash: Some(crashes.clone()),
        injection: None,
    };
    let world = match World::start(opts).await {
        Ok(world) => world,
        Err(e) => {
            let violation = Violation { invariant: "world_starts", detail: e.to_string() };
            return report(seed, vec![violation], DriveStats::default(), 0, 0, vec![], started);
        }
    };
    let foreign = seed_foreign(&world).await;

    // Submit the deployments (some twice, as a client retrying its request would).
    let mut observer = Observer::default();
    let mut teardowns = Vec::new();
    let mut violations = Vec::new();
    for index in 0..rng.random_range(1..=cfg.max_deployments) {
        let planned = specs::deployment(&mut rng, seed, index);
        let key = format!("chaos-{seed}-{index}");
        let submits = if rng.random_bool(0.2) { 2 } else { 1 };
        let mut id = None;
        for _ in 0..submits {
            match world.app.deployments.submit(&planned.spec, Some(&key)).await {
                Ok(state) if id.as_ref().is_some_and(|i| i != &state.deployment_id) => {
                    let detail = format!("one idempotency key made {}", state.deployment_id);
                    violations.push(Violation { invariant: "no_duplicate_create", detail });
                }
                Ok(state) => id = Some(state.deployment_id),
                Err(e) => {
                    let detail = format!("deployment {index} was refused: {e}");
                    violations.push(Violation { invariant: "spec_accepted", detail });
                }
            }
        }
        let Some(id) = id else { continue };
        if let Some(after) = planned.teardown_after {
            teardowns.push(TeardownPlan { id: id.clone(), after, done: false });
        }
        observer.ids.push(id);
        observer.canaries.extend(planned.canaries);
    }
    observer.observe(&world).await;

    let deadline = world.clock.now() + Duration::from_secs(cfg.bound_secs as u64 * 2);
    let mut driver = Driver {
        world: &world,
        rng: &mut rng,
        mischief: cfg.mischief,
        max_messages: cfg.max_messages,
        deadline,
        teardowns,
        observer: &mut observer,
    };
    let stats = driver.run().await;

    violations.append(&mut observer.violations);
    let states = check_final(&world, &observer, cfg, &foreign, &mut violations).await;
    if cfg.capture_logs {
        inv::no_canary(
            "no_secret_in_logs",
            "the logs",
            &logs.text(),
            &observer.canaries,
            &mut violations,
        );
    }
    let statuses = states.iter().map(|s| s.status.as_str().to_owned()).collect();
    let dead = world.queue.dead_letters().len();
    let mut out = report(seed, violations, stats, crashes.count(), dead, statuses, started);
    out.simulated = world.clock.elapsed();
    out.log_bytes = logs.text().len();
    out
}

/// Foreign resources in the same subscription that no deployment may touch.
pub(super) async fn seed_foreign(world: &World) -> Vec<String> {
    let rg = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/someone-elses-rg");
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/someone-elses-vnet");
    let rg_body = json!({ "location": "westeurope", "tags": { "owner": "another-team" } });
    let vnet_body = json!({
        "location": "westeurope",
        "properties": { "addressSpace": { "addressPrefixes": ["10.250.0.0/16"] } }
    });
    for (path, body) in [(&rg, rg_body), (&vnet, vnet_body)] {
        let path = format!("{path}?api-version=2024-03-01");
        if let Err(e) = world.sim.seed_request("PUT", &path, body).await {
            tracing::warn!(error = %e, "could not seed a foreign resource");
        }
    }
    vec![rg]
}

pub(super) async fn check_final(
    world: &World,
    observer: &Observer,
    cfg: &ChaosConfig,
    foreign: &[String],
    out: &mut Vec<Violation>,
) -> Vec<SagaState> {
    let inventory = world.sim.inventory();
    let log = world.sim.request_log();
    let mut states = Vec::new();
    for id in &observer.ids {
        let Ok(state) = world.app.deployments.get(id).await else {
            let detail = format!("{id} cannot be read back");
            out.push(Violation { invariant: "terminal_within_bound", detail });
            continue;
        };
        let terminal_at = observer.terminal_at.get(id).copied();
        inv::terminal_within_bound(&state, terminal_at, cfg.bound_secs, out);
        match world.app.deployments.plan_of(&state) {
            Ok(plan) => inv::ownership(&state, &plan, &inventory, out),
            Err(e) => out.push(Violation {
                invariant: "succeeded_owns_planned",
                detail: format!("{id}: plan cannot be rebuilt: {e}"),
            }),
        }
        let answer = serde_json::to_string(&state).unwrap_or_default();
        inv::no_canary("no_secret_in_api", "a status answer", &answer, &observer.canaries, out);
        states.push(state);
    }
    if let Ok(page) = world.app.deployments.list(None, None, 100).await {
        let answer = serde_json::to_string(&page.items).unwrap_or_default();
        inv::no_canary("no_secret_in_api", "a list answer", &answer, &observer.canaries, out);
    }
    let resources = serde_json::to_string(&inventory).unwrap_or_default();
    inv::no_canary("no_secret_in_api", "an Azure GET answer", &resources, &observer.canaries, out);
    inv::no_duplicate_create(&log, out);
    inv::foreign_untouched(&log, foreign, out);
    states
}

fn report(
    seed: u64,
    violations: Vec<Violation>,
    stats: DriveStats,
    crashes: u64,
    dead_letters: usize,
    statuses: Vec<String>,
    started: Instant,
) -> SeedReport {
    SeedReport {
        seed,
        violations,
        stats,
        crashes,
        dead_letters,
        statuses,
        simulated: Duration::ZERO,
        elapsed: started.elapsed(),
        log_bytes: 0,
    }
}

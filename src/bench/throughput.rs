//! Saga steps per second and memory per in-flight deployment with many deployments at once
//! on the embedded runtime (in-memory store, in-process queue, one simulated Azure), plus
//! state reads, writes and messages per step.

use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_core::ports::StateStore;
use polaris_core::saga::SagaConfig;
use polaris_sim::{FaultPlan, LatencyProfile};

use crate::chaos::specs::spec;
use crate::chaos::{World, WorldOptions};
use crate::clock::Clock;
use crate::queue::Delivery;
use crate::worker::{Disposition, MetricsSnapshot};

const LOCK: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct ThroughputRun {
    pub deployments: usize,
    pub succeeded: usize,
    pub elapsed: Duration,
    pub metrics: MetricsSnapshot,
    /// Mean size of a deployment's state document at the end.
    pub state_bytes: usize,
    /// Resident memory growth from submitting the deployments (their state, secrets and
    /// start messages), before any step ran.
    pub rss_submitted_bytes: u64,
    /// Peak resident memory growth while they ran, the simulator's own growth (resources,
    /// request log, container listeners) included.
    pub rss_delta_bytes: u64,
}

/// Resident set size of this process, from `/proc/self/status` (Linux).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    kb * 1024
}

/// Submits `count` deployments, then lets `handlers` concurrent handlers work the queue
/// until every deployment is terminal. Time is virtual, so the figure is the orchestrator's
/// own cost per step (HTTPS to the simulator included), not Azure's latency.
pub async fn run(count: usize, handlers: usize) -> ThroughputRun {
    let opts = WorldOptions {
        seed: 1,
        latency: LatencyProfile::default(),
        faults: FaultPlan::default(),
        saga: SagaConfig { default_poll_secs: 1, ..SagaConfig::default() },
        crash: None,
        injection: None,
    };
    let world = Arc::new(World::start(opts).await.expect("the simulated world starts"));
    let baseline = rss_bytes();

    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let planned = spec(i % 2 == 0, false, i % 4 == 0, &format!("bench-{i}"), i);
        let state = world.app.deployments.submit(&planned.spec, None).await.expect("accepted");
        ids.push(state.deployment_id);
    }
    let submitted = world.metrics.snapshot();
    let rss_submitted_bytes = rss_bytes().saturating_sub(baseline);

    let started = Instant::now();
    let peak = Arc::new(std::sync::atomic::AtomicU64::new(rss_bytes()));
    let tasks: Vec<_> = (0..handlers.max(1))
        .map(|_| {
            let world = world.clone();
            let peak = peak.clone();
            tokio::spawn(async move { work(&world, &peak).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("a handler task panicked");
    }
    let elapsed = started.elapsed();
    let end = world.metrics.snapshot();

    let mut bytes = 0;
    let mut succeeded = 0;
    for id in &ids {
        if let Ok(doc) = world.store.get(&crate::worker::state_key(id)).await {
            bytes += doc.body.len();
        }
        let state = world.app.deployments.get(id).await.expect("exists");
        succeeded += usize::from(state.status == polaris_core::saga::DeploymentStatus::Succeeded);
    }
    let metrics = MetricsSnapshot {
        reads: end.reads - submitted.reads,
        writes: end.writes - submitted.writes,
        sent: end.sent - submitted.sent,
        steps: end.steps - submitted.steps,
        stale: end.stale - submitted.stale,
        busy: end.busy - submitted.busy,
    };
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    ThroughputRun {
        deployments: count,
        succeeded,
        elapsed,
        metrics,
        state_bytes: bytes / count.max(1),
        rss_submitted_bytes,
        rss_delta_bytes: peak.saturating_sub(baseline),
    }
}

/// One handler: take due messages; when none is due and none is in flight anywhere, move
/// virtual time to the next due message; stop when the queue holds nothing.
async fn work(world: &World, peak: &std::sync::atomic::AtomicU64) {
    let mut handled = 0u64;
    loop {
        if let Some(delivery) = world.queue.try_receive(LOCK) {
            handle(world, delivery).await;
            handled += 1;
            if handled.is_multiple_of(256) {
                peak.fetch_max(rss_bytes(), std::sync::atomic::Ordering::Relaxed);
            }
            continue;
        }
        if world.queue.in_flight() > 0 {
            tokio::task::yield_now().await;
            continue;
        }
        match world.queue.next_due_time() {
            Some(at) if at > world.clock.now() => {
                world.clock.advance_to(at);
            }
            Some(_) => tokio::task::yield_now().await,
            None => return,
        }
    }
}

async fn handle(world: &World, delivery: Delivery) {
    let disposition = world.app.handle_message(&delivery.body, delivery.delivery_count).await;
    let token = delivery.lock_token;
    let settled = match disposition {
        Disposition::Complete => world.queue.complete(token),
        Disposition::Retry { .. } => world.queue.abandon(token),
        Disposition::DeadLetter { reason, description } => {
            world.queue.dead_letter(token, &reason, Some(&description))
        }
    };
    if let Err(e) = settled {
        tracing::debug!(error = %e, "settlement refused");
    }
}

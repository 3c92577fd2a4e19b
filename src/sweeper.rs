//! Recovery sweeper: re-kicks deployments whose progress stalled.
//!
//! A continuation can be lost (dead-lettered after repeated failures, dropped by an
//! operator, swallowed by duplicate detection). The saga then waits for ever, because every
//! step runs only when a message arrives. The sweeper lists deployment states, and for a
//! non-terminal one that has not changed for `stall_after` and has no continuation still
//! due, sends a `Kick`: the worker then re-sends the pending work recorded in state (or
//! starts an accepted deployment whose first kick was lost).
//!
//! Idempotent: the kick's message id names the deployment and the sweep slot (time divided
//! by `stall_after`), so two sweepers in the same slot send one message, and a kick of a
//! deployment that is progressing is a stale message the worker ignores.

use std::sync::Arc;
use std::time::Duration;

use polaris_core::ids::DeploymentId;
use polaris_core::ports::OutboundMessage;
use polaris_core::saga::{SagaState, WorkMessage};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use crate::error::WorkerError;
use crate::worker::Worker;

const PAGE: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweeperConfig {
    /// Quiet time after which a deployment counts as stalled. It must exceed the lease plus
    /// the longest poll interval, and Service Bus' duplicate-detection window (10 min):
    /// the re-sent continuation keeps its message id, which the broker would swallow
    /// inside the window.
    pub stall_after: Duration,
}

impl Default for SweeperConfig {
    fn default() -> Self {
        Self { stall_after: Duration::from_secs(11 * 60) }
    }
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub scanned: usize,
    pub kicked: Vec<DeploymentId>,
}

/// Whether `state` is stalled at `now`.
pub fn is_stalled(state: &SagaState, now: OffsetDateTime, stall_after: Duration) -> bool {
    if state.status.is_terminal() {
        return false;
    }
    // A scheduled continuation counts as activity until it is due.
    let due = state.steps.values().filter_map(|s| s.not_before).max();
    let last = due.map_or(state.updated_at, |d| d.max(state.updated_at));
    now - last > stall_after
}

/// The kick's message id: one per deployment per sweep slot.
pub fn kick_message_id(id: &DeploymentId, now: OffsetDateTime, stall_after: Duration) -> String {
    let slot = now.unix_timestamp() / i64::try_from(stall_after.as_secs().max(1)).unwrap_or(1);
    format!("{id}:sweep:{slot}")
}

/// One pass over every deployment.
pub async fn sweep(worker: &Worker, config: &SweeperConfig) -> Result<SweepReport, WorkerError> {
    let now = worker.clock.now();
    let mut report = SweepReport::default();
    let mut after: Option<String> = None;
    loop {
        let keys = worker.store.list("deployments/", after.as_deref(), PAGE).await?;
        for key in &keys {
            let Some(id) = id_of(key) else { continue };
            report.scanned += 1;
            let state = match worker.read(&id).await {
                Ok((state, _)) => state,
                Err(WorkerError::UnknownDeployment { .. }) => continue,
                Err(e) => return Err(e),
            };
            if !is_stalled(&state, now, config.stall_after) {
                continue;
            }

            tracing::info!(deployment_id = %id, status = state.status.as_str(), "re-kicking");
            let message = OutboundMessage {
                message_id: kick_message_id(&id, now, config.stall_after),
                body: serde_json::to_vec(&WorkMessage::kick(id.clone())).expect("serializes"),
                scheduled_enqueue_time: None,
                correlation_id: Some(id.to_string()),
            };
            worker.sender.send(message).await?;
            report.kicked.push(id);
        }
        if keys.len() < PAGE {
            return Ok(report);
        }
        after = keys.last().cloned();
    }
}

/// Sweeps every `period` until the task is aborted (embedded runtime).
pub fn spawn_loop(worker: Arc<Worker>, config: SweeperConfig, period: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&worker, &config).await {
                tracing::warn!(error = %e, "sweep failed; trying again next period");
            }
        }
    })
}

fn id_of(key: &str) -> Option<DeploymentId> {
    let id = key.strip_prefix("deployments/")?.strip_suffix(".json")?;
    DeploymentId::new(id).ok()
}

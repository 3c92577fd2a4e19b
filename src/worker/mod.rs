//! The message handler: one saga step per message.
//!
//! The same `Worker` serves the Functions host (`SagaWorker`, via `polaris serve`) and the
//! embedded runtime. Each step message is handled in a bounded sequence: take the
//! deployment's lease, read state (one read), check the message is current, perform one
//! action, decide, write state with its ETag (one write), send the continuations, release the
//! lease. A crash anywhere in that sequence is repaired by redelivery: the action is
//! observe-then-act, a stale message re-sends the continuations state already recorded, and
//! duplicate detection absorbs what was already sent.

mod metrics;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use polaris_core::action::{ExecContext, FailureClass, Outcome, StepFailure};
use polaris_core::ids::DeploymentId;
use polaris_core::ports::{
    ETag, Executor, MessageSender, OutboundMessage, SecretStore, StateStore, StoreError,
    WriteCondition,
};
use polaris_core::saga::{self, Admission, Event, SagaConfig, SagaState, WorkItem, WorkMessage};
use tracing::{Instrument, info_span};

use crate::clock::Clock;
use crate::error::WorkerError;
use crate::planning::plan_for;

pub use metrics::{MetricsSnapshot, WorkerMetrics};

/// What the transport should do with the message that was handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Settled: complete the message (answer 2xx to the host).
    Complete,
    /// A failure that redelivery may fix (store or queue unavailable): abandon it.
    Retry { reason: String },
    /// The message can never succeed (malformed body, unknown deployment): record and drop
    /// it rather than retry forever.
    DeadLetter { reason: String, description: String },
}

/// Points where the chaos harness may crash a handler, to prove redelivery repairs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// After the Azure call, before the state write.
    AfterAction,
    /// After the state write, before the continuations are sent.
    AfterWrite,
}

/// Decides whether to crash at a point; `None` in production.
pub trait CrashHook: Send + Sync {
    fn crash_at(&self, item: &WorkItem, point: CrashPoint) -> bool;
}

/// Key of a deployment's state document.
pub fn state_key(id: &DeploymentId) -> String {
    format!("deployments/{id}.json")
}

pub struct Worker {
    pub store: Arc<dyn StateStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub sender: Arc<dyn MessageSender>,
    pub executor: Arc<dyn Executor>,
    pub clock: Arc<dyn Clock>,
    pub saga: SagaConfig,
    /// Lease length; must outlast one invocation (one action is a few requests).
    pub lease_secs: u32,
    /// Upper bound on one action; past it the outcome is unknown and the step observes again.
    pub action_timeout: StdDuration,
    pub metrics: Arc<WorkerMetrics>,
    pub crash: Option<Arc<dyn CrashHook>>,
}

impl Worker {
    /// Handles one raw message body (already unwrapped from the host's envelope).
    pub async fn handle_body(&self, body: &[u8], delivery_count: u32) -> Disposition {
        let message: WorkMessage = match serde_json::from_slice(body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(delivery_count, error = %e, "dead-lettering malformed message");
                return Disposition::DeadLetter {
                    reason: "MalformedMessage".into(),
                    description: format!("not a polaris work message: {e}"),
                };
            }
        };
        self.handle(message, delivery_count).await
    }

    pub async fn handle(&self, message: WorkMessage, delivery_count: u32) -> Disposition {
        let result = match message {
            WorkMessage::Step { item, .. } => {
                let span = info_span!(
                    "saga_step",
                    deployment_id = %item.deployment_id,
                    step = %item.step,
                    phase = item.phase.as_str(),
                    attempt = item.attempt,
                    delivery_count,
                );
                self.run_step(&item).instrument(span).await
            }
            WorkMessage::Kick { deployment_id, .. } => {
                let span = info_span!("saga_kick", deployment_id = %deployment_id, step = "-");
                self.kick(&deployment_id).instrument(span).await
            }
            WorkMessage::Teardown { deployment_id, .. } => {
                let span = info_span!("saga_teardown", deployment_id = %deployment_id, step = "-");
                self.apply_event(&deployment_id, Event::Teardown).instrument(span).await.map(|_| ())
            }
            WorkMessage::Deploy { .. } => Err(WorkerError::MalformedMessage(
                "deploy messages are accepted by the deployments service".into(),
            )),
        };
        disposition(result)
    }

    /// Starts an accepted deployment, or re-sends the pending work of a running one (the
    /// sweeper uses this to recover a lost continuation).
    pub async fn kick(&self, id: &DeploymentId) -> Result<(), WorkerError> {
        let (state, changed) = self.apply(id, Event::Start).await?;
        if changed {
            return Ok(());
        }

        // Not newly started: whatever state says is pending may have been lost.
        self.send_items(saga::pending_items(&state)).await
    }

    /// Applies an event that needs no Azure call (start, teardown, retry, abandon) with a
    /// read-decide-write loop on ETag conflicts.
    pub async fn apply_event(
        &self,
        id: &DeploymentId,
        event: Event,
    ) -> Result<SagaState, WorkerError> {
        Ok(self.apply(id, event).await?.0)
    }

    /// [`Self::apply_event`], also telling whether the event changed anything.
    async fn apply(
        &self,
        id: &DeploymentId,
        event: Event,
    ) -> Result<(SagaState, bool), WorkerError> {
        for _ in 0..8 {
            let (state, etag) = self.read(id).await?;
            let plan = plan_for(&state)?;
            let decision =
                saga::decide(&plan, &state, event.clone(), &self.saga, self.clock.now())?;
            if !decision.changed {
                return Ok((decision.state, false));
            }

            match self.write(&decision.state, etag).await {
                Ok(()) => {
                    self.send_items(decision.dispatch).await?;
                    return Ok((decision.state, true));
                }
                Err(StoreError::Conflict { .. }) | Err(StoreError::Leased { .. }) => {
                    tokio::time::sleep(StdDuration::from_millis(20)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(WorkerError::Busy { id: id.to_string() })
    }

    async fn run_step(&self, item: &WorkItem) -> Result<(), WorkerError> {
        let key = state_key(&item.deployment_id);
        let lease = match self.take_lease(&key).await {
            Ok(lease) => lease,
            Err(WorkerError::Busy { .. }) => {
                // Another invocation owns this deployment right now (B17): a parallel branch
                // or a duplicate of this very message. Come back shortly instead of holding
                // the message; if the item is stale by then, admission drops it.
                tracing::info!("deployment busy in another worker; retrying the item shortly");
                self.metrics.busy();
                return self.defer(item).await;
            }
            Err(e) => return Err(e),
        };

        let result = self.run_step_leased(item).await;
        if let Err(e) = self.store.release_lease(&lease).await {
            tracing::debug!(error = %e, "lease release failed; it expires on its own");
        }
        result
    }

    async fn run_step_leased(&self, item: &WorkItem) -> Result<(), WorkerError> {
        let (state, etag) = self.read(&item.deployment_id).await?;
        let plan = plan_for(&state)?;

        let action = match saga::admit(&plan, &state, item)? {
            Admission::Execute(action) => *action,
            Admission::Stale { redispatch } => {
                tracing::debug!("stale or duplicate message; re-sending pending work");
                self.metrics.stale();
                return self.send_items(redispatch).await;
            }
            Admission::Finished => return Ok(()),
        };

        let ctx = ExecContext {
            deployment_id: item.deployment_id.clone(),
            step: item.step.clone(),
            attempt: item.attempt,
            now: self.clock.now(),
        };
        let outcome =
            match tokio::time::timeout(self.action_timeout, self.executor.execute(&action, &ctx))
                .await
            {
                Ok(outcome) => outcome,
                Err(_) => Outcome::Failed(StepFailure::new(
                    FailureClass::UnknownOutcome,
                    "ActionTimedOut",
                    format!("no answer within {:?}; observing again", self.action_timeout),
                )),
            };
        self.metrics.step();
        if self.crashes(item, CrashPoint::AfterAction) {
            return Err(WorkerError::Busy { id: "crash injected after action".into() });
        }

        let event = Event::StepOutcome {
            step: item.step.clone(),
            phase: item.phase,
            attempt: item.attempt,
            tick: item.tick,
            outcome,
        };
        let mut state = state;
        let mut etag = etag;
        for _ in 0..8 {
            let decision =
                saga::decide(&plan, &state, event.clone(), &self.saga, self.clock.now())?;
            if !decision.changed {
                return Ok(());
            }

            match self.write(&decision.state, etag.clone()).await {
                Ok(()) => {
                    log_transition(&state, &decision.state);
                    if self.crashes(item, CrashPoint::AfterWrite) {
                        return Err(WorkerError::Busy { id: "crash injected after write".into() });
                    }
                    self.send_items(decision.dispatch).await?;
                    if decision.state.status.is_terminal() {
                        self.on_terminal(&decision.state).await;
                    }
                    return Ok(());
                }
                Err(StoreError::Conflict { .. }) => {
                    // Someone applied an event meanwhile (a teardown request): apply our
                    // outcome to the fresh state; the saga ignores it if no longer current.
                    (state, etag) = self.read(&item.deployment_id).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(WorkerError::Busy { id: item.deployment_id.to_string() })
    }

    async fn on_terminal(&self, state: &SagaState) {
        use saga::DeploymentStatus as S;
        if matches!(state.status, S::TornDown | S::Compensated | S::Cancelled) {
            // Nothing in Azure needs the secrets any more; a redrive resubmits them.
            if let Err(e) = self.secrets.delete_all(state.deployment_id.as_str()).await {
                tracing::warn!(error = %e, "could not delete deployment secrets");
            }
        }
        tracing::info!(status = state.status.as_str(), "deployment reached a terminal state");
    }

    async fn take_lease(&self, key: &str) -> Result<polaris_core::ports::Lease, WorkerError> {
        // Steps are short, so a held lease is usually released within a moment.
        for attempt in 0..10u64 {
            match self.store.acquire_lease(key, self.lease_secs).await {
                Ok(lease) => return Ok(lease),
                Err(StoreError::Leased { .. }) => {
                    tokio::time::sleep(StdDuration::from_millis(25 * (attempt + 1))).await;
                }
                Err(StoreError::NotFound { .. }) => {
                    return Err(WorkerError::UnknownDeployment { id: key.to_owned() });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(WorkerError::Busy { id: key.to_owned() })
    }

    pub async fn read(&self, id: &DeploymentId) -> Result<(SagaState, ETag), WorkerError> {
        let key = state_key(id);
        self.metrics.read();
        let doc = match self.store.get(&key).await {
            Ok(doc) => doc,
            Err(StoreError::NotFound { .. }) => {
                return Err(WorkerError::UnknownDeployment { id: id.to_string() });
            }
            Err(e) => return Err(e.into()),
        };
        let state: SagaState = serde_json::from_slice(&doc.body)
            .map_err(|e| WorkerError::CorruptState { id: id.to_string(), why: e.to_string() })?;
        Ok((state, doc.etag))
    }

    async fn write(&self, state: &SagaState, etag: ETag) -> Result<(), StoreError> {
        let body = serde_json::to_vec(state).expect("saga state always serializes");
        self.metrics.write();
        let key = state_key(&state.deployment_id);
        self.store.put(&key, body, WriteCondition::IfMatch(etag)).await.map(|_| ())
    }

    pub async fn send_items(&self, items: Vec<WorkItem>) -> Result<(), WorkerError> {
        for item in items {
            let message = OutboundMessage {
                message_id: item.message_id(),
                scheduled_enqueue_time: item.not_before,
                correlation_id: Some(item.deployment_id.to_string()),
                body: serde_json::to_vec(&WorkMessage::step(item)).expect("serializes"),
            };
            self.metrics.sent();
            self.sender.send(message).await?;
        }
        Ok(())
    }

    /// Re-sends `item` a little later under a fresh message id (the original id may already
    /// be in the duplicate-detection window).
    async fn defer(&self, item: &WorkItem) -> Result<(), WorkerError> {
        let now = self.clock.now();
        let message = OutboundMessage {
            message_id: format!("{}~{}", item.message_id(), now.unix_timestamp_nanos() / 1_000_000),
            scheduled_enqueue_time: Some(now + time::Duration::seconds(2)),
            correlation_id: Some(item.deployment_id.to_string()),
            body: serde_json::to_vec(&WorkMessage::step(item.clone())).expect("serializes"),
        };
        self.metrics.sent();
        self.sender.send(message).await?;
        Ok(())
    }

    fn crashes(&self, item: &WorkItem, point: CrashPoint) -> bool {
        self.crash.as_ref().is_some_and(|hook| hook.crash_at(item, point))
    }
}

fn log_transition(before: &SagaState, after: &SagaState) {
    for entry in after.history.iter().skip(before.history.len()) {
        tracing::info!(
            event = %entry.event,
            step = entry.step.as_ref().map(|s| s.as_str()).unwrap_or("-"),
            attempt = entry.attempt,
            request_id = entry.request_id.as_deref().unwrap_or("-"),
            detail = %entry.detail,
            "saga transition"
        );
    }
}

fn disposition(result: Result<(), WorkerError>) -> Disposition {
    match result {
        Ok(()) => Disposition::Complete,
        Err(e @ WorkerError::UnknownDeployment { .. })
        | Err(e @ WorkerError::MalformedMessage(_))
        | Err(e @ WorkerError::CorruptState { .. }) => {
            tracing::warn!(error = %e, "message can never succeed; dead-lettering");
            let reason = match &e {
                WorkerError::UnknownDeployment { .. } => "UnknownDeployment",
                WorkerError::MalformedMessage(_) => "MalformedMessage",
                _ => "CorruptState",
            };
            Disposition::DeadLetter { reason: reason.into(), description: e.to_string() }
        }
        Err(e) => {
            tracing::warn!(error = %e, "step failed; the message will be redelivered");
            Disposition::Retry { reason: e.to_string() }
        }
    }
}

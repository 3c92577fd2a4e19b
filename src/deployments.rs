//! The deployments service: what the API, the CLI and `deploy` queue messages call.
//!
//! Submitting validates the spec, moves its secrets to the secret store, stores the redacted
//! spec as a new saga state (create-only, so a repeat with the same idempotency key finds the
//! first one) and sends the start message.

use std::sync::Arc;

use polaris_core::ids::DeploymentId;
use polaris_core::plan::Plan;
use polaris_core::plan::build::{PlanContext, build_plan};
use polaris_core::ports::{OutboundMessage, StoreError, WriteCondition};
use polaris_core::saga::{self, DeploymentStatus, Event, SagaState, WorkMessage};
use polaris_core::spec::{DeploymentSpec, parse_spec_value};
use sha2::{Digest, Sha256};

use crate::error::WorkerError;
use crate::planning::plan_for;
use crate::worker::{Worker, state_key};

/// One page of a deployment listing.
#[derive(Clone, Debug)]
pub struct Page {
    pub items: Vec<SagaState>,
    /// Pass back as `after` for the next page; `None` on the last page.
    pub continuation: Option<String>,
}

pub struct Deployments {
    pub worker: Arc<Worker>,
    /// Tenant of the Key Vaults this orchestrator creates.
    pub tenant_id: String,
}

impl Deployments {
    /// Validates and plans a spec without storing anything.
    pub fn plan(&self, spec: &serde_json::Value) -> Result<(DeploymentSpec, Plan), WorkerError> {
        let spec = parse_spec_value(spec).map_err(WorkerError::InvalidSpec)?;
        let id = DeploymentId::from_name(&spec.name, 0);
        let plan = self.build(&spec, &id)?;
        Ok((spec, plan))
    }

    /// Accepts a deployment. With an idempotency key, a repeat returns the first deployment.
    pub async fn submit(
        &self,
        spec: &serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<SagaState, WorkerError> {
        let spec = parse_spec_value(spec).map_err(WorkerError::InvalidSpec)?;
        let entropy = match idempotency_key {
            // The same key always yields the same id, so concurrent repeats race on one
            // create-only write and exactly one deployment exists.
            Some(key) => {
                let digest = Sha256::digest(format!("{}\n{key}", spec.subscription_id));
                u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
            }
            None => rand::random::<u32>(),
        };
        let id = DeploymentId::from_name(&spec.name, entropy);
        let plan = self.build(&spec, &id)?;

        for (key, secret) in spec.secrets() {
            if let Some(value) = secret.expose() {
                self.worker.secrets.put(id.as_str(), &key, value).await?;
            }
        }

        let redacted = serde_json::to_value(&spec).expect("specs serialize");
        let now = self.worker.clock.now();
        let state = saga::new_deployment(
            &plan,
            redacted,
            &self.tenant_id,
            idempotency_key.map(str::to_owned),
            now,
        );
        let body = serde_json::to_vec(&state).expect("saga state serializes");
        match self.worker.store.put(&state_key(&id), body, WriteCondition::CreateOnly).await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists { .. }) if idempotency_key.is_some() => {
                // The first submission may have stored the state and then failed to send its
                // kick: send it again (duplicate detection absorbs it if it did go out).
                let (existing, _) = self.worker.read(&id).await?;
                if existing.status == DeploymentStatus::Accepted {
                    self.send_kick(&id, 0).await?;
                }
                return Ok(existing);
            }
            Err(e) => return Err(e.into()),
        }

        self.send_kick(&id, 0).await?;
        tracing::info!(deployment_id = %id, steps = plan.steps.len(), "deployment accepted");
        Ok(state)
    }

    pub async fn get(&self, id: &DeploymentId) -> Result<SagaState, WorkerError> {
        Ok(self.worker.read(id).await?.0)
    }

    pub fn plan_of(&self, state: &SagaState) -> Result<Plan, WorkerError> {
        plan_for(state)
    }

    /// Deployments in id order, optionally only those in `status`.
    pub async fn list(
        &self,
        status: Option<DeploymentStatus>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, WorkerError> {
        let mut items = Vec::new();
        let mut cursor = after.map(state_key_str);
        loop {
            let keys =
                self.worker.store.list("deployments/", cursor.as_deref(), limit.max(1)).await?;
            let exhausted = keys.len() < limit.max(1);
            for key in &keys {
                cursor = Some(key.clone());
                let Some(id) = id_from_key(key) else { continue };
                match self.worker.read(&id).await {
                    Ok((state, _)) if status.is_none_or(|s| s == state.status) => {
                        items.push(state);
                        if items.len() == limit {
                            let more = !exhausted || key != keys.last().expect("non-empty");
                            let next = more.then(|| id.to_string());
                            return Ok(Page { items, continuation: next });
                        }
                    }
                    Ok(_) | Err(WorkerError::UnknownDeployment { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if exhausted {
                return Ok(Page { items, continuation: None });
            }
        }
    }

    /// Tears a succeeded deployment down, or cancels a running one at its next step boundary.
    pub async fn teardown(&self, id: &DeploymentId) -> Result<SagaState, WorkerError> {
        self.worker.apply_event(id, Event::Teardown).await
    }

    /// Redrives a compensated, cancelled or stuck deployment.
    pub async fn retry(&self, id: &DeploymentId) -> Result<SagaState, WorkerError> {
        self.worker.apply_event(id, Event::Retry).await
    }

    pub async fn abandon(&self, id: &DeploymentId, reason: &str) -> Result<SagaState, WorkerError> {
        self.worker.apply_event(id, Event::Abandon { reason: reason.to_owned() }).await
    }

    async fn send_kick(&self, id: &DeploymentId, n: u32) -> Result<(), WorkerError> {
        let message = OutboundMessage {
            message_id: format!("{id}:kick:{n}"),
            body: serde_json::to_vec(&WorkMessage::kick(id.clone())).expect("serializes"),
            scheduled_enqueue_time: None,
            correlation_id: Some(id.to_string()),
        };
        self.worker.sender.send(message).await?;
        Ok(())
    }

    fn build(&self, spec: &DeploymentSpec, id: &DeploymentId) -> Result<Plan, WorkerError> {
        let ctx = PlanContext { deployment_id: id.clone(), tenant_id: self.tenant_id.clone() };
        let plan = build_plan(spec, &ctx).map_err(|e| WorkerError::CorruptState {
            id: id.to_string(),
            why: format!("the spec validated but could not be planned: {e}"),
        })?;
        saga::check_plan(&plan)?;
        Ok(plan)
    }
}

fn state_key_str(id: &str) -> String {
    format!("deployments/{id}.json")
}

fn id_from_key(key: &str) -> Option<DeploymentId> {
    let id = key.strip_prefix("deployments/")?.strip_suffix(".json")?;
    DeploymentId::new(id).ok()
}

//! Routes queue messages to the worker or the deployments service. Shared by the Functions
//! handler and the embedded runtime, so both behave the same.

use std::sync::Arc;

use polaris_core::saga::WorkMessage;

use crate::deployments::Deployments;
use crate::error::WorkerError;
use crate::worker::{Disposition, Worker};

pub struct App {
    pub worker: Arc<Worker>,
    pub deployments: Deployments,
}

impl App {
    pub fn new(worker: Arc<Worker>, tenant_id: String) -> Self {
        let deployments = Deployments { worker: worker.clone(), tenant_id };
        Self { worker, deployments }
    }

    /// Handles one message body from the work queue.
    pub async fn handle_message(&self, body: &[u8], delivery_count: u32) -> Disposition {
        let message: WorkMessage = match serde_json::from_slice(body) {
            Ok(m) => m,
            Err(e) => {
                return Disposition::DeadLetter {
                    reason: "MalformedMessage".into(),
                    description: format!("not a polaris work message: {e}"),
                };
            }
        };

        match message {
            WorkMessage::Deploy { spec, idempotency_key, .. } => {
                match self.deployments.submit(&spec, idempotency_key.as_deref()).await {
                    Ok(state) => {
                        let id = &state.deployment_id;
                        tracing::info!(deployment_id = %id, "deploy message accepted");
                        Disposition::Complete
                    }
                    // A spec that does not validate will never validate: keep the reasons.
                    Err(WorkerError::InvalidSpec(errors)) => Disposition::DeadLetter {
                        reason: "InvalidSpec".into(),
                        description: errors.to_string(),
                    },
                    Err(e) => Disposition::Retry { reason: e.to_string() },
                }
            }
            other => self.worker.handle(other, delivery_count).await,
        }
    }
}

//! The work queue's message body: a documented, versioned JSON schema.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{DeploymentId, StepName};

use super::state::Phase;

/// Value of the `schema` field of every work message this version sends.
pub const WORK_SCHEMA: &str = "polaris.work/v1";

/// One unit of saga work: run `phase` of `step` for the `attempt`/`tick` recorded in state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub deployment_id: DeploymentId,
    pub step: StepName,
    pub phase: Phase,
    pub attempt: u32,
    pub tick: u32,
    /// Deliver no sooner than this (a poll after `Retry-After`, a backoff).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub not_before: Option<OffsetDateTime>,
}

impl WorkItem {
    /// Unique per deployment, step, phase, attempt and tick: a continuation never reuses the
    /// id of an earlier one (B18), and re-sending the same continuation is absorbed by
    /// duplicate detection.
    pub fn message_id(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.deployment_id,
            self.step,
            self.phase.as_str(),
            self.attempt,
            self.tick
        )
    }
}

/// Every message on the work queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkMessage {
    /// Run one saga step.
    Step {
        schema: String,
        #[serde(flatten)]
        item: WorkItem,
    },
    /// A deployment stored by the API (or by the first invocation of a `deploy` message) is
    /// ready to start; also used by the sweeper to re-kick a stalled deployment.
    Kick { schema: String, deployment_id: DeploymentId },
    /// A full deployment request sent straight to the queue (`polaris enqueue`). Its message
    /// id is derived from the request, so a client re-send is absorbed.
    Deploy {
        schema: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deployment_id: Option<DeploymentId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
        spec: serde_json::Value,
    },
    /// Tear down (or cancel) a deployment.
    Teardown { schema: String, deployment_id: DeploymentId },
}

impl WorkMessage {
    pub fn step(item: WorkItem) -> Self {
        Self::Step { schema: WORK_SCHEMA.to_owned(), item }
    }

    pub fn kick(deployment_id: DeploymentId) -> Self {
        Self::Kick { schema: WORK_SCHEMA.to_owned(), deployment_id }
    }

    pub fn teardown(deployment_id: DeploymentId) -> Self {
        Self::Teardown { schema: WORK_SCHEMA.to_owned(), deployment_id }
    }

    pub fn schema(&self) -> &str {
        match self {
            Self::Step { schema, .. }
            | Self::Kick { schema, .. }
            | Self::Deploy { schema, .. }
            | Self::Teardown { schema, .. } => schema,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_message_round_trips_with_flat_fields() {
        let item = WorkItem {
            deployment_id: DeploymentId::new("demo-00000001").unwrap(),
            step: StepName::new("vnet"),
            phase: Phase::Do,
            attempt: 2,
            tick: 5,
            not_before: None,
        };
        let msg = WorkMessage::step(item.clone());
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["kind"], "step");
        assert_eq!(json["schema"], WORK_SCHEMA);
        assert_eq!(json["step"], "vnet");
        assert_eq!(json["phase"], "do");
        let back: WorkMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, msg);
        assert_eq!(item.message_id(), "demo-00000001:vnet:do:2:5");
    }
}

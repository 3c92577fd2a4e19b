//! What a deployment remembers between invocations. Serialized into the state blob, so every
//! field is small, and nothing secret ever lands here (the spec is stored redacted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::action::{Outcome, PendingOperation};
use crate::ids::{DeploymentId, StepName};
use crate::plan::model::Outputs;

/// Whether a step is going forward (create) or backward (undo).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Do,
    Undo,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Do => "do",
            Phase::Undo => "undo",
        }
    }
}

/// What the deployment as a whole is trying to reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Deploy,
    Teardown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Stored, start message sent, no step run yet.
    Accepted,
    Running,
    Succeeded,
    /// Undoing after a failure or a cancel.
    Compensating,
    /// Failed, and everything it created is gone.
    Compensated,
    /// Cancelled by a user while running, and everything it created is gone.
    Cancelled,
    /// Undoing a succeeded deployment on request.
    TearingDown,
    TornDown,
    /// An undo could not finish; `failure` says why. Needs `retry` or `abandon`.
    Stuck,
    /// An operator gave up on a stuck deployment; history records what may remain.
    Abandoned,
}

impl DeploymentStatus {
    /// No more work will happen without an operator's request.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded
                | Self::Compensated
                | Self::Cancelled
                | Self::TornDown
                | Self::Stuck
                | Self::Abandoned
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Compensating => "compensating",
            Self::Compensated => "compensated",
            Self::Cancelled => "cancelled",
            Self::TearingDown => "tearing_down",
            Self::TornDown => "torn_down",
            Self::Stuck => "stuck",
            Self::Abandoned => "abandoned",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    /// The forward action failed for good; it may have left a partial resource to undo.
    Failed,
    Undoing,
    Undone,
    UndoFailed,
    /// Never started, or nothing to undo.
    Skipped,
}

/// The error a step reported, with the Azure request id a support case needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub step: StepName,
    pub phase: Phase,
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub status: StepStatus,
    /// Which phase the step is in; an undo restarts attempts at 1.
    pub phase: Phase,
    /// Attempt of the current phase, from 1 once started.
    pub attempt: u32,
    /// Bumped for every dispatched continuation, so each message id is unique (B18) and a
    /// message that does not carry the current tick is known to be stale.
    pub tick: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<PendingOperation>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub not_before: Option<OffsetDateTime>,
    /// When the current phase started, for the step deadline (B12).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub phase_started_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// A write may have reached Azure, so the undo path must look for a resource.
    pub touched: bool,
    /// Capacity retries so far (B11).
    #[serde(default)]
    pub capacity_retries: u32,
    /// The undo is only clearing a partial resource before the forward step retries (B11).
    #[serde(default)]
    pub resetting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<ErrorRecord>,
}

impl StepState {
    pub fn pending() -> Self {
        Self {
            status: StepStatus::Pending,
            phase: Phase::Do,
            attempt: 0,
            tick: 0,
            operation: None,
            not_before: None,
            phase_started_at: None,
            outputs: BTreeMap::new(),
            touched: false,
            capacity_retries: 0,
            resetting: false,
            last_error: None,
        }
    }

    /// A message for this step is only acted on while the step is running its phase.
    pub fn is_active(&self) -> bool {
        matches!(self.status, StepStatus::Running | StepStatus::Undoing)
    }
}

/// One line of the deployment's history: every state change, with what caused it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    #[serde(default)]
    pub attempt: u32,
    /// Short machine-readable kind: `started`, `in_progress`, `succeeded`, `retry_scheduled`,
    /// `failed`, `undo_started`, `undone`, `undo_failed`, `deployment_<status>`, ...
    pub event: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Saga state of one deployment: the document in the state blob.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SagaState {
    /// Layout version of this document.
    pub schema: u32,
    pub deployment_id: DeploymentId,
    /// The validated spec with secrets redacted; the plan is rebuilt from it on every step.
    pub spec: serde_json::Value,
    pub tenant_id: String,
    pub intent: Intent,
    pub status: DeploymentStatus,
    pub steps: BTreeMap<StepName, StepState>,
    pub history: Vec<HistoryEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<ErrorRecord>,
    #[serde(default)]
    pub outputs: Outputs,
    #[serde(default)]
    pub cancel_requested: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Increments on every decision, for optimistic-concurrency diagnostics.
    pub revision: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What happened, as far as the saga is concerned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Begin the forward path.
    Start,
    /// An executor finished one action for the work item `(step, phase, attempt, tick)`.
    StepOutcome { step: StepName, phase: Phase, attempt: u32, tick: u32, outcome: Outcome },
    /// Tear down a succeeded deployment, or cancel a running one at its next step boundary.
    Teardown,
    /// Redrive a compensated or stuck deployment from where it failed (Step Functions' redrive).
    Retry,
    /// An operator gives up on a stuck undo.
    Abandon { reason: String },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::StepOutcome { .. } => "step_outcome",
            Event::Teardown => "teardown",
            Event::Retry => "retry",
            Event::Abandon { .. } => "abandon",
        }
    }
}

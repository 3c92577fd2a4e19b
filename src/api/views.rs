//! What the API answers: views built from saga state. Nothing here copies the spec, so no
//! secret (even redacted) can leak through a view; outputs, errors and history are the only
//! free text, and the executor already redacts secrets from those.

use std::collections::BTreeMap;

use polaris_core::saga::{DeploymentStatus, HistoryEntry, SagaState, StepStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Durable Functions' runtime status vocabulary, so clients of that pattern feel at home.
pub fn runtime_status(status: DeploymentStatus) -> &'static str {
    use DeploymentStatus as S;
    match status {
        S::Accepted => "Pending",
        S::Running | S::Compensating | S::TearingDown => "Running",
        S::Succeeded | S::TornDown => "Completed",
        S::Compensated | S::Stuck => "Failed",
        S::Cancelled | S::Abandoned => "Terminated",
    }
}

/// Progress as counts of steps, so a client can draw a bar without knowing the plan.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub percent: u8,
}

/// The last error, with the Azure request id a support case needs.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LastError {
    pub step: String,
    pub phase: String,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    pub at: String,
}

/// One history line.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    pub at: String,
    pub step: Option<String>,
    pub phase: Option<String>,
    pub attempt: u32,
    pub event: String,
    pub detail: String,
    pub request_id: Option<String>,
}

/// A deployment as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentView {
    pub id: String,
    /// Saga status: `accepted`, `running`, `succeeded`, `torn_down`, `stuck`, ...
    pub status: String,
    /// `Pending`, `Running`, `Completed`, `Failed` or `Terminated`.
    pub runtime_status: String,
    /// `deploy` or `teardown`.
    pub intent: String,
    pub terminal: bool,
    pub cancel_requested: bool,
    /// Steps with work in flight right now.
    pub current_steps: Vec<String>,
    pub progress: Progress,
    /// The module's outputs by their module names (`null` where the module returns null).
    pub outputs: BTreeMap<String, Option<String>>,
    pub last_error: Option<LastError>,
    pub created_at: String,
    pub updated_at: String,
    /// Every step event; only with `?history=true`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub history: Option<Vec<HistoryItem>>,
}

/// One page of `GET /api/deployments`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentPage {
    pub items: Vec<DeploymentView>,
    /// Pass as `continuation` for the next page; absent on the last page.
    pub continuation: Option<String>,
}

/// Body of `POST /api/deployments/{id}/abandon`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AbandonRequest {
    /// Why the operator gives up; recorded in history.
    pub reason: String,
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

fn history_item(entry: &HistoryEntry) -> HistoryItem {
    HistoryItem {
        at: rfc3339(entry.at),
        step: entry.step.as_ref().map(|s| s.to_string()),
        phase: entry.phase.map(|p| p.as_str().to_owned()),
        attempt: entry.attempt,
        event: entry.event.clone(),
        detail: entry.detail.clone(),
        request_id: entry.request_id.clone(),
    }
}

impl DeploymentView {
    pub fn from_state(state: &SagaState, with_history: bool) -> Self {
        let current_steps = state
            .steps
            .iter()
            .filter(|(_, s)| matches!(s.status, StepStatus::Running | StepStatus::Undoing))
            .map(|(n, _)| n.to_string())
            .collect();
        let total = state.steps.len();
        let done = state
            .steps
            .values()
            .filter(|s| {
                use StepStatus as S;
                matches!(s.status, S::Succeeded | S::Undone | S::Skipped)
            })
            .count();
        let percent = (done * 100).checked_div(total).map_or(100, |p| p.min(100) as u8);
        // The deployment's failure, else the latest error a step is retrying after.
        let step_error =
            state.steps.values().filter_map(|s| s.last_error.as_ref()).max_by_key(|e| e.at);
        let last_error = state.failure.as_ref().or(step_error).map(|f| LastError {
            step: f.step.to_string(),
            phase: f.phase.as_str().to_owned(),
            code: f.code.clone(),
            message: f.message.clone(),
            request_id: f.request_id.clone(),
            at: rfc3339(f.at),
        });
        let intent = match state.intent {
            polaris_core::saga::Intent::Deploy => "deploy",
            polaris_core::saga::Intent::Teardown => "teardown",
        };
        Self {
            id: state.deployment_id.to_string(),
            status: state.status.as_str().to_owned(),
            runtime_status: runtime_status(state.status).to_owned(),
            intent: intent.to_owned(),
            terminal: state.status.is_terminal(),
            cancel_requested: state.cancel_requested,
            current_steps,
            progress: Progress { done, total, percent },
            outputs: state.outputs.clone(),
            last_error,
            created_at: rfc3339(state.created_at),
            updated_at: rfc3339(state.updated_at),
            history: with_history.then(|| state.history.iter().map(history_item).collect()),
        }
    }
}

//! Watches every deployment's state after each handled message, so a status change that no
//! history entry explains, or a secret in a stored document, is caught when it happens.

use std::collections::BTreeMap;

use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::ports::StateStore;
use polaris_core::saga::{DeploymentStatus, SagaState, StepStatus};
use time::OffsetDateTime;

use super::invariants::Violation;
use super::world::World;
use crate::clock::Clock;
use crate::worker::state_key;

#[derive(Clone, Debug)]
struct Snapshot {
    status: DeploymentStatus,
    steps: BTreeMap<StepName, StepStatus>,
    history_len: usize,
}

/// Per-deployment snapshots and what was wrong between them.
#[derive(Default)]
pub struct Observer {
    pub ids: Vec<DeploymentId>,
    pub canaries: Vec<String>,
    last: BTreeMap<DeploymentId, Snapshot>,
    /// When each deployment was first seen terminal.
    pub terminal_at: BTreeMap<DeploymentId, OffsetDateTime>,
    pub violations: Vec<Violation>,
}

impl Observer {
    pub async fn observe(&mut self, world: &World) {
        for id in self.ids.clone() {
            let Ok(doc) = world.store.get(&state_key(&id)).await else { continue };
            let text = String::from_utf8_lossy(&doc.body);
            if let Some(canary) = self.canaries.iter().find(|c| text.contains(c.as_str())) {
                self.flag("no_secret_in_state", format!("{id}: state holds `{canary}`"));
            }
            let state: SagaState = match serde_json::from_slice(&doc.body) {
                Ok(state) => state,
                Err(e) => {
                    self.flag("history_explains_changes", format!("{id}: unreadable: {e}"));
                    continue;
                }
            };
            self.compare(&id, &state);
            if state.status.is_terminal() {
                self.terminal_at.entry(id.clone()).or_insert(world.clock.now());
            } else {
                self.terminal_at.remove(&id);
            }
        }
    }

    fn compare(&mut self, id: &DeploymentId, state: &SagaState) {
        let now = snapshot(state);
        let Some(before) = self.last.insert(id.clone(), now.clone()) else { return };
        let new = &state.history[before.history_len.min(state.history.len())..];
        if now.history_len < before.history_len {
            self.flag("history_explains_changes", format!("{id}: history shrank"));
            return;
        }

        let deployment_entry = new.iter().any(|h| h.step.is_none());
        if now.status != before.status && !deployment_entry {
            let why = format!(
                "{id}: {} -> {} with no deployment history entry",
                before.status.as_str(),
                now.status.as_str()
            );
            self.flag("history_explains_changes", why);
        }
        for (step, status) in &now.steps {
            let old = before.steps.get(step).copied();
            if old == Some(*status) {
                continue;
            }
            let step_entry = new.iter().any(|h| h.step.as_ref() == Some(step));
            let skipped_by_turnaround = *status == StepStatus::Skipped && deployment_entry;
            if !step_entry && !skipped_by_turnaround {
                let why = format!("{id}: step {step} {old:?} -> {status:?} with no history entry");
                self.flag("history_explains_changes", why);
            }
        }
    }

    pub fn flag(&mut self, invariant: &'static str, detail: String) {
        self.violations.push(Violation { invariant, detail });
    }
}

fn snapshot(state: &SagaState) -> Snapshot {
    Snapshot {
        status: state.status,
        steps: state.steps.iter().map(|(k, v)| (k.clone(), v.status)).collect(),
        history_len: state.history.len(),
    }
}

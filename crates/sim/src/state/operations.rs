//! Long-running operations. An operation is done when `now >= ready_at`; the world is
//! "settled" (completed operations applied) at the start of every request and by a
//! background tick, so results never depend on sleeping.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Effect, World, rfc3339};
use crate::arm::container_instance as aci;
use crate::arm::ids::types;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Create or update: the target's provisioningState moves to Succeeded/Failed.
    Provision,
    /// Delete: the target disappears.
    Delete,
    /// Resource-group delete: the group and everything in it disappear.
    GroupDelete,
    /// Purge of a soft-deleted vault (target = lower-case vault name).
    PurgeVault,
    /// Start of a stopped container group.
    Start,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpOutcome {
    Succeed,
    Fail { code: String, message: String },
    Stuck { event: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpState {
    Running,
    Succeeded,
    Failed { code: String, message: String },
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub id: String,
    /// Path of the operation-status resource (`Azure-AsyncOperation`).
    pub status_path: String,
    pub kind: OpKind,
    pub target: String,
    pub started: OffsetDateTime,
    pub ready_at: OffsetDateTime,
    pub outcome: OpOutcome,
    pub state: OpState,
    /// A stuck operation has shown its waiting state.
    pub stuck_shown: bool,
    pub ended: Option<OffsetDateTime>,
}

impl Operation {
    /// Body of the operation-status resource.
    pub fn status_body(&self) -> Value {
        let mut body = json!({
            "id": self.status_path,
            "name": self.id,
            "startTime": rfc3339(self.started),
        });
        match &self.state {
            OpState::Running => body["status"] = json!("InProgress"),
            OpState::Succeeded => body["status"] = json!("Succeeded"),
            OpState::Failed { code, message } => {
                body["status"] = json!("Failed");
                body["error"] = json!({ "code": code, "message": message });
            }
        }
        if let Some(ended) = self.ended {
            body["endTime"] = json!(rfc3339(ended));
        }
        body
    }
}

impl World {
    /// Applies every operation that is due at `now`, and purges vaults whose retention ended.
    pub fn settle(&mut self, now: OffsetDateTime) {
        let mut due: Vec<(OffsetDateTime, String)> = self
            .operations
            .values()
            .filter(|op| op.state == OpState::Running && now >= op.ready_at && !op.stuck_shown)
            .map(|op| (op.ready_at, op.id.clone()))
            .collect();
        due.sort();

        for (_, id) in due {
            self.complete(&id, now);
        }

        let expired: Vec<String> = self
            .deleted_vaults
            .iter()
            .filter(|(_, v)| now >= v.scheduled_purge_date)
            .map(|(k, _)| k.clone())
            .collect();
        for name in expired {
            self.deleted_vaults.remove(&name);
            self.keys.remove(&name);
        }
    }

    fn complete(&mut self, id: &str, now: OffsetDateTime) {
        let Some(op) = self.operations.get(id).cloned() else { return };
        let owns_target =
            self.resources.get(&op.target).is_some_and(|r| r.pending_op.as_deref() == Some(id));

        let state = match &op.outcome {
            OpOutcome::Stuck { event } => {
                if owns_target && op.kind == OpKind::Provision {
                    self.show_stuck(&op.target, event.as_deref(), now);
                }
                if let Some(op) = self.operations.get_mut(id) {
                    op.stuck_shown = true;
                }
                return;
            }
            OpOutcome::Fail { code, message } => {
                if owns_target {
                    self.apply_failure(&op, message, now);
                }
                OpState::Failed { code: code.clone(), message: message.clone() }
            }
            OpOutcome::Succeed => {
                self.apply_success(&op, owns_target, now);
                OpState::Succeeded
            }
        };

        if let Some(op) = self.operations.get_mut(id) {
            op.state = state;
            op.ended = Some(now);
        }
    }

    fn apply_success(&mut self, op: &Operation, owns_target: bool, now: OffsetDateTime) {
        match op.kind {
            OpKind::Provision | OpKind::Start if owns_target => {
                let Some(resource) = self.resources.get_mut(&op.target) else { return };
                resource.pending_op = None;
                resource.set_provisioning_state("Succeeded");
                let rtype = resource.rtype.clone();

                if rtype == types::CONTAINER_GROUP {
                    aci::show_running(&mut resource.body, now);
                    self.effects.push(Effect::StartListener(op.target.clone()));
                } else if rtype == types::VNET || rtype == types::NSG {
                    let children: Vec<String> = self
                        .resources
                        .iter()
                        .filter(|(_, r)| r.parent.as_deref() == Some(op.target.as_str()))
                        .map(|(k, _)| k.clone())
                        .collect();
                    for child in children {
                        if let Some(r) = self.resources.get_mut(&child) {
                            r.set_provisioning_state("Succeeded");
                        }
                    }
                }
            }
            OpKind::Provision | OpKind::Start => {}
            OpKind::Delete => {
                self.remove_tree(&op.target, now);
            }
            OpKind::GroupDelete => {
                self.remove_tree(&op.target, now);
            }
            OpKind::PurgeVault => {
                self.deleted_vaults.remove(&op.target);
                self.keys.remove(&op.target);
            }
        }
    }

    fn apply_failure(&mut self, op: &Operation, message: &str, now: OffsetDateTime) {
        let Some(resource) = self.resources.get_mut(&op.target) else { return };
        resource.pending_op = None;
        resource.set_provisioning_state("Failed");
        if resource.rtype == types::CONTAINER_GROUP {
            aci::show_failed(&mut resource.body, message, now);
        }
    }

    fn show_stuck(&mut self, target: &str, event: Option<&str>, now: OffsetDateTime) {
        let Some(resource) = self.resources.get_mut(target) else { return };
        if resource.rtype == types::CONTAINER_GROUP {
            aci::show_waiting(&mut resource.body, event, now);
        }
    }
}

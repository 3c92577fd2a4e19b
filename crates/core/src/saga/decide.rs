//! `(state, event) -> (state, work)`: every decision of the saga, and nothing else.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::action::{Action, FailureClass, OperationKind, Outcome, StepFailure};
use crate::ids::{DeploymentId, StepName};
use crate::plan::model::{ArmResource, KeyResource, OutputSource, Plan, StepKind, VaultResource};

use super::config::SagaConfig;
use super::error::SagaError;
use super::graph::{has_undo, ready_to_do, ready_to_undo};
use super::message::WorkItem;
use super::resolve::{resolve_placeholders, resolve_str};
use super::state::{
    DeploymentStatus, ErrorRecord, Event, HistoryEntry, Intent, Phase, SagaState, StepState,
    StepStatus,
};

/// Failure code for a resource that exists without this deployment's ownership tag.
pub const NOT_OWNED: &str = "NotOwned";

/// The result of one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub state: SagaState,
    /// Work to send, each as its own message (scheduled when `not_before` is set).
    pub dispatch: Vec<WorkItem>,
    /// False when the event changed nothing (a duplicate or stale delivery): the caller then
    /// skips the state write.
    pub changed: bool,
}

/// What to do with a delivered work item.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// The item is current: perform this action, then feed its outcome to [`decide`].
    Execute(Box<Action>),
    /// The item is a duplicate or from an earlier tick. Re-sending what state says is pending
    /// is harmless (same message ids) and repairs a continuation lost in a crash between the
    /// state write and the send.
    Stale { redispatch: Vec<WorkItem> },
    /// The deployment reached a terminal state.
    Finished,
}

/// The state of a deployment that has been accepted but not started.
pub fn new_deployment(
    plan: &Plan,
    spec_redacted: serde_json::Value,
    tenant_id: &str,
    idempotency_key: Option<String>,
    now: OffsetDateTime,
) -> SagaState {
    let steps = plan.steps.iter().map(|s| (s.name.clone(), StepState::pending())).collect();
    let mut state = SagaState {
        schema: 1,
        deployment_id: plan.deployment_id.clone(),
        spec: spec_redacted,
        tenant_id: tenant_id.to_owned(),
        intent: Intent::Deploy,
        status: DeploymentStatus::Accepted,
        steps,
        history: Vec::new(),
        failure: None,
        outputs: BTreeMap::new(),
        cancel_requested: false,
        idempotency_key,
        revision: 0,
        created_at: now,
        updated_at: now,
    };
    note(&mut state, now, "deployment_accepted", "");
    state
}

/// Decides whether a delivered work item should run, and what it should do.
pub fn admit(plan: &Plan, state: &SagaState, item: &WorkItem) -> Result<Admission, SagaError> {
    if state.status.is_terminal() {
        return Ok(Admission::Finished);
    }

    let current = state.steps.get(&item.step).is_some_and(|st| {
        st.is_active()
            && st.phase == item.phase
            && st.attempt == item.attempt
            && st.tick == item.tick
    });
    if !current {
        return Ok(Admission::Stale { redispatch: pending_items(state) });
    }

    match action_for(plan, state, &item.step, item.phase)? {
        Some(action) => Ok(Admission::Execute(Box::new(action))),
        None => Ok(Admission::Stale { redispatch: pending_items(state) }),
    }
}

/// Work items for every step that is waiting on a message, as state records them.
pub fn pending_items(state: &SagaState) -> Vec<WorkItem> {
    state
        .steps
        .iter()
        .filter(|(_, st)| st.is_active())
        .map(|(name, st)| item_for(&state.deployment_id, name, st))
        .collect()
}

/// The action a step performs next in `phase`, with outputs of earlier steps filled in.
pub fn action_for(
    plan: &Plan,
    state: &SagaState,
    step: &StepName,
    phase: Phase,
) -> Result<Option<Action>, SagaError> {
    let planned = plan.step(step).ok_or_else(|| SagaError::UnknownStep { step: step.clone() })?;
    let st = state.steps.get(step).ok_or_else(|| SagaError::UnknownStep { step: step.clone() })?;
    let owner = state.deployment_id.clone();
    let op = st.operation.clone();

    let action = match (phase, &planned.kind) {
        (Phase::Do, StepKind::Arm(r)) => match op {
            Some(operation) => Action::Poll { operation, outputs: r.outputs.clone() },
            None => Action::Ensure { owner, resource: resolved(r, state)? },
        },
        (Phase::Do, StepKind::Vault(v)) => match op {
            Some(operation) => Action::Poll { operation, outputs: v.arm.outputs.clone() },
            None => {
                let vault = VaultResource { arm: resolved(&v.arm, state)?, ..v.clone() };
                Action::EnsureVault { owner, vault }
            }
        },
        (Phase::Do, StepKind::Key(k)) => match op {
            Some(operation) => Action::Poll { operation, outputs: k.arm.outputs.clone() },
            None => {
                let key = KeyResource { arm: resolved(&k.arm, state)?, ..k.clone() };
                Action::EnsureKey { owner, key }
            }
        },
        (Phase::Do, StepKind::Verify(v)) => Action::Verify { resource: v.clone() },
        (Phase::Do, StepKind::HealthCheck(h)) => {
            let mut check = h.clone();
            check.host = resolve_str(&h.host, state)?;
            Action::HealthCheck { check }
        }
        (Phase::Undo, StepKind::Arm(r)) => match op {
            Some(operation) => Action::Poll { operation, outputs: Vec::new() },
            None => Action::Delete {
                owner,
                id: resolve_str(&r.id, state)?,
                api_version: r.api_version.clone(),
                ownership: r.ownership.clone(),
            },
        },
        (Phase::Undo, StepKind::Vault(v)) => match op {
            Some(operation) => Action::Poll { operation, outputs: Vec::new() },
            None => Action::DeleteVault { owner, vault: v.clone() },
        },
        (Phase::Undo, _) => return Ok(None),
    };
    Ok(Some(action))
}

/// An ARM resource with the outputs of earlier steps filled into its id and body.
fn resolved(arm: &ArmResource, state: &SagaState) -> Result<ArmResource, SagaError> {
    Ok(ArmResource {
        id: resolve_str(&arm.id, state)?,
        body: resolve_placeholders(&arm.body, state)?,
        ..arm.clone()
    })
}

/// Applies one event. Pure: the caller persists `state` (conditionally) and sends `dispatch`.
pub fn decide(
    plan: &Plan,
    state: &SagaState,
    event: Event,
    cfg: &SagaConfig,
    now: OffsetDateTime,
) -> Result<Decision, SagaError> {
    let mut s = state.clone();
    let mut out = Vec::new();

    let changed = match event {
        Event::Start => on_start(plan, &mut s, now, &mut out),
        Event::StepOutcome { step, phase, attempt, tick, outcome } => {
            let item = ItemKey { step, phase, attempt, tick };
            on_outcome(plan, &mut s, item, outcome, cfg, now, &mut out)?
        }
        Event::Teardown => on_teardown(plan, &mut s, now, &mut out)?,
        Event::Retry => on_retry(plan, &mut s, now, &mut out)?,
        Event::Abandon { reason } => on_abandon(plan, &mut s, reason, now)?,
    };

    if changed {
        s.revision += 1;
        s.updated_at = now;
    }
    Ok(Decision { state: s, dispatch: out, changed })
}

struct ItemKey {
    step: StepName,
    phase: Phase,
    attempt: u32,
    tick: u32,
}

fn on_start(plan: &Plan, s: &mut SagaState, now: OffsetDateTime, out: &mut Vec<WorkItem>) -> bool {
    // A second start (duplicate message) is a no-op, not an error: delivery is at-least-once.
    if s.status != DeploymentStatus::Accepted {
        return false;
    }

    s.status = DeploymentStatus::Running;
    note(s, now, "deployment_running", "");
    start_ready(plan, s, now, out);
    true
}

fn on_outcome(
    plan: &Plan,
    s: &mut SagaState,
    item: ItemKey,
    outcome: Outcome,
    cfg: &SagaConfig,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) -> Result<bool, SagaError> {
    let planned =
        plan.step(&item.step).ok_or_else(|| SagaError::UnknownStep { step: item.step.clone() })?;
    let Some(st) = s.steps.get(&item.step) else {
        return Err(SagaError::UnknownStep { step: item.step });
    };
    let current = st.is_active()
        && st.phase == item.phase
        && st.attempt == item.attempt
        && st.tick == item.tick;
    if !current || s.status.is_terminal() {
        return Ok(false);
    }

    let deadline = Duration::seconds(planned.deadline_secs as i64);
    let undoable = has_undo(&planned.kind);
    match item.phase {
        Phase::Do => on_do_outcome(plan, s, &item, outcome, undoable, deadline, cfg, now, out),
        Phase::Undo => on_undo_outcome(plan, s, &item, outcome, deadline, cfg, now, out),
    }
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
fn on_do_outcome(
    plan: &Plan,
    s: &mut SagaState,
    item: &ItemKey,
    outcome: Outcome,
    undoable: bool,
    deadline: Duration,
    cfg: &SagaConfig,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    let dep = s.deployment_id.clone();
    let name = item.step.clone();
    match outcome {
        Outcome::Done { outputs, adopted, request_id, note } => {
            let st = step_mut(s, &name);
            st.status = StepStatus::Succeeded;
            st.operation = None;
            st.not_before = None;
            st.touched |= undoable;
            st.outputs.extend(outputs);
            let detail = match (adopted, note) {
                (true, Some(n)) => format!("adopted existing resource; {n}"),
                (true, None) => "adopted existing resource".to_owned(),
                (false, Some(n)) => n,
                (false, None) => String::new(),
            };
            record(s, now, Some((&name, Phase::Do)), item.attempt, "succeeded", detail, request_id);

            if s.cancel_requested {
                begin_undo(plan, s, "cancel requested", now, out);
            } else if s.status == DeploymentStatus::Running {
                start_ready(plan, s, now, out);
                finish_if_all_done(plan, s, now);
            }
        }
        Outcome::InProgress { operation, retry_after_secs, request_id } => {
            if past_deadline(s, &name, deadline, now) {
                step_failed(plan, s, item, deadline_failure(&name, deadline), now, out);
                return;
            }

            let touches = undoable && operation.kind != OperationKind::Health;
            step_mut(s, &name).touched |= touches;
            let poll = Poll { operation, retry_after_secs, request_id };
            schedule_poll(s, item, poll, "in_progress", cfg, now, out);
        }
        Outcome::Failed(failure) => match failure.class {
            FailureClass::Transient | FailureClass::UnknownOutcome => {
                let st = step_mut(s, &name);
                if failure.class == FailureClass::UnknownOutcome {
                    // The write may have landed: look again before writing again.
                    st.touched |= undoable;
                    st.operation = None;
                }
                if s.cancel_requested {
                    begin_undo(plan, s, "cancel requested", now, out);
                } else if item.attempt < cfg.max_attempts {
                    retry_later(s, item, &failure, cfg, now, out);
                } else {
                    let exhausted = exhausted(failure, item.attempt);
                    step_failed(plan, s, item, exhausted, now, out);
                }
            }
            FailureClass::Capacity => {
                let st = step_mut(s, &name);
                st.touched |= undoable;
                if st.capacity_retries < cfg.max_capacity_retries && undoable {
                    // Remove the partial resource first; the forward step retries after it.
                    st.resetting = true;
                    st.status = StepStatus::Undoing;
                    st.phase = Phase::Undo;
                    st.attempt = 1;
                    st.operation = None;
                    st.phase_started_at = Some(now);
                    st.last_error = Some(error_record(&name, Phase::Do, &failure, now));
                    out.push(schedule(&dep, &name, st, None));
                    let detail = format!(
                        "{}: {}; removing the partial resource",
                        failure.code,
                        sentence(&failure.message)
                    );
                    record(
                        s,
                        now,
                        Some((&name, Phase::Do)),
                        item.attempt,
                        "capacity_reset",
                        detail,
                        failure.request_id,
                    );
                } else {
                    let retries = st.capacity_retries;
                    step_failed(plan, s, item, capacity_exhausted(failure, retries), now, out);
                }
            }
            FailureClass::Permanent => step_failed(plan, s, item, failure, now, out),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn on_undo_outcome(
    plan: &Plan,
    s: &mut SagaState,
    item: &ItemKey,
    outcome: Outcome,
    deadline: Duration,
    cfg: &SagaConfig,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    // An undo that finds the resource without our tag leaves it alone: it is not ours, so
    // there is nothing of ours to remove (and we never delete what we did not create).
    let outcome = match outcome {
        Outcome::Failed(f) if f.code == NOT_OWNED => Outcome::Done {
            outputs: BTreeMap::new(),
            adopted: false,
            request_id: f.request_id,
            note: Some(format!("left in place, not ours: {}", f.message)),
        },
        other => other,
    };

    let dep = s.deployment_id.clone();
    let name = item.step.clone();
    match outcome {
        Outcome::Done { outputs, request_id, note, .. } => {
            let resetting = step_ref(s, &name).resetting;
            let st = step_mut(s, &name);
            st.operation = None;
            st.touched = false;
            st.outputs.extend(outputs);
            let detail = note.unwrap_or_default();
            if resetting {
                st.resetting = false;
                st.capacity_retries += 1;
                st.status = StepStatus::Running;
                st.phase = Phase::Do;
                st.attempt = 1;
                st.phase_started_at = Some(now);
                let at = now + Duration::seconds(cfg.capacity_retry_delay_secs as i64);
                out.push(schedule(&dep, &name, st, Some(at)));
                let detail = format!("partial resource removed; retrying at {}", rfc3339(at));
                record(
                    s,
                    now,
                    Some((&name, Phase::Undo)),
                    item.attempt,
                    "capacity_retry_scheduled",
                    detail,
                    request_id,
                );
                if s.cancel_requested {
                    begin_undo(plan, s, "cancel requested", now, out);
                }
                return;
            }

            st.status = StepStatus::Undone;
            record(s, now, Some((&name, Phase::Undo)), item.attempt, "undone", detail, request_id);
            continue_undo(plan, s, now, out);
        }
        Outcome::InProgress { operation, retry_after_secs, request_id } => {
            if past_deadline(s, &name, deadline, now) {
                undo_failed(plan, s, item, deadline_failure(&name, deadline), now, out);
                return;
            }

            let poll = Poll { operation, retry_after_secs, request_id };
            schedule_poll(s, item, poll, "undo_in_progress", cfg, now, out);
        }
        Outcome::Failed(failure) => {
            let retryable = failure.class != FailureClass::Permanent;
            if retryable && item.attempt < cfg.max_undo_attempts {
                if failure.class == FailureClass::UnknownOutcome {
                    step_mut(s, &name).operation = None;
                }
                retry_later(s, item, &failure, cfg, now, out);
            } else {
                let failure = if retryable { exhausted(failure, item.attempt) } else { failure };
                undo_failed(plan, s, item, failure, now, out);
            }
        }
    }
}

fn on_teardown(
    plan: &Plan,
    s: &mut SagaState,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) -> Result<bool, SagaError> {
    match s.status {
        DeploymentStatus::Accepted => {
            s.cancel_requested = true;
            for st in s.steps.values_mut() {
                st.status = StepStatus::Skipped;
            }
            s.status = DeploymentStatus::Cancelled;
            note(s, now, "deployment_cancelled", "cancelled before any step ran");
            Ok(true)
        }
        DeploymentStatus::Running if !s.cancel_requested => {
            s.cancel_requested = true;
            let detail = "the saga stops at the next step boundary, then unwinds".to_owned();
            note(s, now, "cancel_requested", detail);
            Ok(true)
        }
        DeploymentStatus::Succeeded | DeploymentStatus::Stuck | DeploymentStatus::Compensated => {
            s.intent = Intent::Teardown;
            reset_failed_undos(s);
            begin_undo(plan, s, "teardown requested", now, out);
            Ok(true)
        }
        // Already unwinding, or nothing left: a repeated request changes nothing.
        DeploymentStatus::Running
        | DeploymentStatus::Compensating
        | DeploymentStatus::TearingDown
        | DeploymentStatus::TornDown
        | DeploymentStatus::Cancelled => Ok(false),
        DeploymentStatus::Abandoned => {
            Err(SagaError::IllegalTransition { event: "teardown", status: s.status })
        }
    }
}

fn on_retry(
    plan: &Plan,
    s: &mut SagaState,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) -> Result<bool, SagaError> {
    match s.status {
        DeploymentStatus::Stuck => {
            reset_failed_undos(s);
            s.status = match s.intent {
                Intent::Deploy => DeploymentStatus::Compensating,
                Intent::Teardown => DeploymentStatus::TearingDown,
            };
            note(s, now, "redrive_undo", "retrying the undo that failed");
            continue_undo(plan, s, now, out);
            Ok(true)
        }
        DeploymentStatus::Compensated | DeploymentStatus::Cancelled => {
            for st in s.steps.values_mut() {
                // Keep the tick: a fresh step would reuse the first run's message ids, and
                // the queue's duplicate detection would swallow the redrive (B18).
                let tick = st.tick;
                *st = StepState::pending();
                st.tick = tick;
            }
            s.failure = None;
            s.cancel_requested = false;
            s.intent = Intent::Deploy;
            s.status = DeploymentStatus::Running;
            note(s, now, "redrive", "deploying again from the failed step");
            start_ready(plan, s, now, out);
            Ok(true)
        }
        other => Err(SagaError::IllegalTransition { event: "retry", status: other }),
    }
}

fn on_abandon(
    plan: &Plan,
    s: &mut SagaState,
    reason: String,
    now: OffsetDateTime,
) -> Result<bool, SagaError> {
    if s.status != DeploymentStatus::Stuck {
        return Err(SagaError::IllegalTransition { event: "abandon", status: s.status });
    }

    let remaining: Vec<String> = plan
        .steps
        .iter()
        .filter(|p| s.steps.get(&p.name).is_some_and(|st| st.touched && has_undo(&p.kind)))
        .map(|p| match &p.kind {
            StepKind::Arm(r) => r.id.clone(),
            StepKind::Vault(v) => v.arm.id.clone(),
            _ => p.name.to_string(),
        })
        .collect();
    s.status = DeploymentStatus::Abandoned;
    let detail = format!("{reason}; may remain: {}", remaining.join(", "));
    note(s, now, "deployment_abandoned", detail);
    Ok(true)
}

/// Marks failed undos as waiting again so `continue_undo` picks them up.
fn reset_failed_undos(s: &mut SagaState) {
    for st in s.steps.values_mut() {
        if st.status == StepStatus::UndoFailed {
            st.status = StepStatus::Failed;
            st.touched = true;
            st.operation = None;
        }
    }
}

fn start_ready(plan: &Plan, s: &mut SagaState, now: OffsetDateTime, out: &mut Vec<WorkItem>) {
    let dep = s.deployment_id.clone();
    for name in ready_to_do(plan, s) {
        let st = step_mut(s, &name);
        st.status = StepStatus::Running;
        st.phase = Phase::Do;
        st.attempt = 1;
        st.phase_started_at = Some(now);
        out.push(schedule(&dep, &name, st, None));
        record(s, now, Some((&name, Phase::Do)), 1, "started", String::new(), None);
    }
}

fn finish_if_all_done(plan: &Plan, s: &mut SagaState, now: OffsetDateTime) {
    let all_done = plan
        .steps
        .iter()
        .all(|p| s.steps.get(&p.name).is_some_and(|st| st.status == StepStatus::Succeeded));
    if !all_done {
        return;
    }

    s.outputs = plan
        .outputs
        .iter()
        .map(|b| {
            let value = match &b.source {
                OutputSource::Literal { value } => Some(value.clone()),
                OutputSource::Step { step, output } => {
                    s.steps.get(step).and_then(|st| st.outputs.get(output)).cloned()
                }
                OutputSource::Null => None,
            };
            (b.name.clone(), value)
        })
        .collect();
    s.status = DeploymentStatus::Succeeded;
    note(s, now, "deployment_succeeded", "");
}

fn step_failed(
    plan: &Plan,
    s: &mut SagaState,
    item: &ItemKey,
    failure: StepFailure,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    let err = error_record(&item.step, Phase::Do, &failure, now);
    let undoable = plan.step(&item.step).is_some_and(|p| has_undo(&p.kind));
    let st = step_mut(s, &item.step);
    st.status = StepStatus::Failed;
    // A permanent failure can follow a write that took effect (a created resource missing
    // an output): undo to be sure; an undo of nothing is one GET answered 404.
    st.touched |= undoable;
    st.operation = None;
    st.last_error = Some(err.clone());
    s.failure.get_or_insert(err);
    let detail = format!("{}: {}", failure.code, failure.message);
    record(
        s,
        now,
        Some((&item.step, Phase::Do)),
        item.attempt,
        "failed",
        detail,
        failure.request_id,
    );
    begin_undo(plan, s, "step failed", now, out);
}

fn undo_failed(
    plan: &Plan,
    s: &mut SagaState,
    item: &ItemKey,
    failure: StepFailure,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    let err = error_record(&item.step, Phase::Undo, &failure, now);
    let resetting = step_ref(s, &item.step).resetting;
    let st = step_mut(s, &item.step);
    st.status = StepStatus::UndoFailed;
    st.operation = None;
    st.resetting = false;
    st.last_error = Some(err.clone());
    if s.failure.is_none() || s.status != DeploymentStatus::Running {
        s.failure = Some(err);
    }
    let detail = format!("{}: {}", failure.code, failure.message);
    record(
        s,
        now,
        Some((&item.step, Phase::Undo)),
        item.attempt,
        "undo_failed",
        detail,
        failure.request_id,
    );

    if resetting && s.status == DeploymentStatus::Running {
        begin_undo(plan, s, "could not remove a partial resource", now, out);
    } else {
        continue_undo(plan, s, now, out);
    }
}

fn retry_later(
    s: &mut SagaState,
    item: &ItemKey,
    failure: &StepFailure,
    cfg: &SagaConfig,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    let dep = s.deployment_id.clone();
    let delay = failure
        .retry_after_secs
        .unwrap_or_else(|| cfg.backoff_secs(item.attempt, item.step.as_str()));
    let at = now + Duration::seconds(delay as i64);
    let st = step_mut(s, &item.step);
    st.attempt += 1;
    st.last_error = Some(error_record(&item.step, item.phase, failure, now));
    out.push(schedule(&dep, &item.step, st, Some(at)));
    let detail = format!(
        "{}: {}; attempt {} in {delay}s",
        failure.code,
        sentence(&failure.message),
        st.attempt
    );
    let request_id = failure.request_id.clone();
    record(
        s,
        now,
        Some((&item.step, item.phase)),
        item.attempt,
        "retry_scheduled",
        detail,
        request_id,
    );
}

/// Turns the saga around: compensation after a failure or cancel, or a requested teardown.
fn begin_undo(
    plan: &Plan,
    s: &mut SagaState,
    why: &str,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    s.status = match s.intent {
        Intent::Deploy => DeploymentStatus::Compensating,
        Intent::Teardown => DeploymentStatus::TearingDown,
    };

    for p in &plan.steps {
        let undoable = has_undo(&p.kind);
        let Some(st) = s.steps.get_mut(&p.name) else { continue };
        match st.status {
            StepStatus::Pending => st.status = StepStatus::Skipped,
            // A forward step still in flight may have written already: undo it to be sure
            // (an undo of nothing is one GET answered 404).
            StepStatus::Running => {
                st.status = StepStatus::Skipped;
                st.touched |= undoable;
                st.operation = None;
                st.resetting = false;
            }
            StepStatus::Undoing if st.resetting => {
                st.status = StepStatus::Skipped;
                st.touched = true;
                st.operation = None;
                st.resetting = false;
            }
            _ => {}
        }
    }

    let event = match s.intent {
        Intent::Deploy => "compensation_started",
        Intent::Teardown => "teardown_started",
    };
    note(s, now, event, why);
    continue_undo(plan, s, now, out);
}

fn continue_undo(plan: &Plan, s: &mut SagaState, now: OffsetDateTime, out: &mut Vec<WorkItem>) {
    let dep = s.deployment_id.clone();
    for name in ready_to_undo(plan, s) {
        let st = step_mut(s, &name);
        st.status = StepStatus::Undoing;
        st.phase = Phase::Undo;
        st.attempt = 1;
        st.operation = None;
        st.phase_started_at = Some(now);
        out.push(schedule(&dep, &name, st, None));
        record(s, now, Some((&name, Phase::Undo)), 1, "undo_started", String::new(), None);
    }

    let busy = s.steps.values().any(|st| st.status == StepStatus::Undoing);
    if busy {
        return;
    }

    let failed_undo = s.steps.values().any(|st| st.status == StepStatus::UndoFailed);
    let (status, event) = if failed_undo {
        (DeploymentStatus::Stuck, "deployment_stuck")
    } else if s.intent == Intent::Teardown {
        (DeploymentStatus::TornDown, "deployment_torn_down")
    } else if s.cancel_requested {
        (DeploymentStatus::Cancelled, "deployment_cancelled")
    } else {
        (DeploymentStatus::Compensated, "deployment_compensated")
    };
    s.status = status;
    let detail = match (&s.failure, failed_undo) {
        (Some(f), true) => format!("undo of `{}` failed: {}: {}", f.step, f.code, f.message),
        _ => String::new(),
    };
    note(s, now, event, detail);
}

fn schedule(
    dep: &DeploymentId,
    name: &StepName,
    st: &mut StepState,
    not_before: Option<OffsetDateTime>,
) -> WorkItem {
    st.tick += 1;
    st.not_before = not_before;
    item_for(dep, name, st)
}

fn item_for(dep: &DeploymentId, name: &StepName, st: &StepState) -> WorkItem {
    WorkItem {
        deployment_id: dep.clone(),
        step: name.clone(),
        phase: st.phase,
        attempt: st.attempt,
        tick: st.tick,
        not_before: st.not_before,
    }
}

/// An operation still running in Azure, as the executor reported it.
struct Poll {
    operation: crate::action::PendingOperation,
    retry_after_secs: Option<u64>,
    request_id: Option<String>,
}

fn past_deadline(s: &SagaState, name: &StepName, deadline: Duration, now: OffsetDateTime) -> bool {
    let started = step_ref(s, name).phase_started_at.unwrap_or(now);
    now - started > deadline
}

/// Records the operation and schedules the next poll no sooner than `Retry-After`; the
/// first poll of an operation goes into the history, later ones change nothing visible.
fn schedule_poll(
    s: &mut SagaState,
    item: &ItemKey,
    poll: Poll,
    event: &str,
    cfg: &SagaConfig,
    now: OffsetDateTime,
    out: &mut Vec<WorkItem>,
) {
    let dep = s.deployment_id.clone();
    let first = step_ref(s, &item.step).operation.is_none();
    let delay = poll.retry_after_secs.unwrap_or(cfg.default_poll_secs);
    let st = step_mut(s, &item.step);
    st.operation = Some(poll.operation);
    out.push(schedule(&dep, &item.step, st, Some(now + Duration::seconds(delay as i64))));
    if first {
        let detail = format!("waiting on Azure; next poll in {delay}s");
        let at = Some((&item.step, item.phase));
        record(s, now, at, item.attempt, event, detail, poll.request_id);
    }
}

/// A message that goes before a `;` without its own full stop.
fn sentence(message: &str) -> &str {
    message.trim_end_matches('.')
}

/// A timestamp for people: RFC 3339, whole seconds.
fn rfc3339(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

fn deadline_failure(name: &StepName, deadline: Duration) -> StepFailure {
    StepFailure::new(
        FailureClass::Permanent,
        "StepDeadlineExceeded",
        format!("step `{name}` did not finish within {}s", deadline.whole_seconds()),
    )
}

fn exhausted(failure: StepFailure, attempts: u32) -> StepFailure {
    StepFailure {
        class: FailureClass::Permanent,
        message: format!("gave up after {attempts} attempts: {}", failure.message),
        ..failure
    }
}

/// Capacity that did not come back within the retries ends the deployment with the code
/// `Capacity` (B11), so a caller can tell "try later or elsewhere" from a bad request
/// whatever code Azure used; Azure's code stays in the message.
fn capacity_exhausted(failure: StepFailure, retries: u32) -> StepFailure {
    let message = format!(
        "no regional capacity after {retries} capacity retries: {}: {}",
        failure.code, failure.message
    );
    StepFailure { class: FailureClass::Permanent, code: "Capacity".to_owned(), message, ..failure }
}

fn error_record(
    step: &StepName,
    phase: Phase,
    f: &StepFailure,
    now: OffsetDateTime,
) -> ErrorRecord {
    ErrorRecord {
        step: step.clone(),
        phase,
        code: f.code.clone(),
        message: f.message.clone(),
        request_id: f.request_id.clone(),
        at: now,
    }
}

fn step_mut<'a>(s: &'a mut SagaState, name: &StepName) -> &'a mut StepState {
    s.steps.entry(name.clone()).or_insert_with(StepState::pending)
}

fn step_ref<'a>(s: &'a SagaState, name: &StepName) -> &'a StepState {
    static PENDING: std::sync::OnceLock<StepState> = std::sync::OnceLock::new();
    s.steps.get(name).unwrap_or_else(|| PENDING.get_or_init(StepState::pending))
}

/// A history entry about the deployment as a whole rather than one step.
fn note(s: &mut SagaState, at: OffsetDateTime, event: &str, detail: impl Into<String>) {
    record(s, at, None, 0, event, detail.into(), None);
}

fn record(
    s: &mut SagaState,
    at: OffsetDateTime,
    step: Option<(&StepName, Phase)>,
    attempt: u32,
    event: &str,
    detail: String,
    request_id: Option<String>,
) {
    s.history.push(HistoryEntry {
        at,
        step: step.map(|(n, _)| n.clone()),
        phase: step.map(|(_, p)| p),
        attempt,
        event: event.to_owned(),
        detail,
        request_id,
    });
}

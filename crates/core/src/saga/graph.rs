//! Dependency questions the saga asks of a plan.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::StepName;
use crate::plan::model::{Plan, StepKind};

use super::error::SagaError;
use super::state::{SagaState, StepStatus};

/// Steps in an order where each comes after its dependencies (Kahn's algorithm, ties broken
/// by plan order so the result is stable).
pub fn topological_order(plan: &Plan) -> Result<Vec<StepName>, SagaError> {
    let mut indegree: BTreeMap<&StepName, usize> = BTreeMap::new();
    for step in &plan.steps {
        indegree.insert(&step.name, step.depends_on.len());
    }

    let mut order = Vec::with_capacity(plan.steps.len());
    let mut done: BTreeSet<&StepName> = BTreeSet::new();
    while order.len() < plan.steps.len() {
        let next = plan
            .steps
            .iter()
            .find(|s| !done.contains(&s.name) && s.depends_on.iter().all(|d| done.contains(d)));
        match next {
            Some(step) => {
                done.insert(&step.name);
                order.push(step.name.clone());
            }
            None => {
                let stuck = plan.steps.iter().find(|s| !done.contains(&s.name));
                let step = stuck.map(|s| s.name.clone()).unwrap_or_else(|| "?".into());
                return Err(SagaError::Cycle { step });
            }
        }
    }
    Ok(order)
}

/// Checks what the saga relies on: dependencies exist, the graph is acyclic, and every
/// `${step.output}` placeholder names a step the referring step (transitively) depends on,
/// so its value is recorded before it is needed.
pub fn check_plan(plan: &Plan) -> Result<(), SagaError> {
    for step in &plan.steps {
        for dep in &step.depends_on {
            if plan.step(dep).is_none() {
                return Err(SagaError::MissingDependency {
                    step: step.name.clone(),
                    missing: dep.clone(),
                });
            }
        }
    }
    topological_order(plan)?;

    for step in &plan.steps {
        let ancestors = ancestors(plan, &step.name);
        let text = match &step.kind {
            StepKind::Arm(r) => format!("{} {}", r.id, r.body),
            StepKind::Vault(v) => format!("{} {}", v.arm.id, v.arm.body),
            StepKind::Key(k) => format!("{} {}", k.arm.id, k.arm.body),
            StepKind::Verify(v) => v.id.clone(),
            StepKind::HealthCheck(h) => h.host.clone(),
        };
        for token in placeholders(&text) {
            if token.starts_with("secret:") {
                continue;
            }
            let referred = token.split('.').next().unwrap_or_default();
            if !ancestors.contains(&StepName::new(referred)) {
                return Err(SagaError::PlaceholderNotADependency {
                    step: step.name.clone(),
                    placeholder: format!("${{{token}}}"),
                });
            }
        }
    }
    Ok(())
}

/// Every step that depends on `name`, directly or through steps without an undo (a key is
/// removed with its vault, so the vault must wait for whatever depends on the key).
fn descendants(plan: &Plan, name: &StepName) -> BTreeSet<StepName> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![name.clone()];
    while let Some(next) = stack.pop() {
        for step in plan.steps.iter().filter(|s| s.depends_on.contains(&next)) {
            if seen.insert(step.name.clone()) {
                stack.push(step.name.clone());
            }
        }
    }
    seen
}

fn ancestors(plan: &Plan, name: &StepName) -> BTreeSet<StepName> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<StepName> =
        plan.step(name).map(|s| s.depends_on.clone()).unwrap_or_default();
    while let Some(next) = stack.pop() {
        if seen.insert(next.clone())
            && let Some(step) = plan.step(&next)
        {
            stack.extend(step.depends_on.iter().cloned());
        }
    }
    seen
}

fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        found.push(&after[..end]);
        rest = &after[end + 1..];
    }
    found
}

/// Forward steps whose dependencies all succeeded and that have not started.
pub(crate) fn ready_to_do(plan: &Plan, state: &SagaState) -> Vec<StepName> {
    plan.steps
        .iter()
        .filter(|s| status_of(state, &s.name) == StepStatus::Pending)
        .filter(|s| s.depends_on.iter().all(|d| status_of(state, d) == StepStatus::Succeeded))
        .map(|s| s.name.clone())
        .collect()
}

/// Whether undoing `step` can affect Azure at all.
pub(crate) fn has_undo(kind: &StepKind) -> bool {
    matches!(kind, StepKind::Arm(_) | StepKind::Vault(_))
}

/// Whether a step still has (or may have) something in Azure that an undo must remove.
pub(crate) fn needs_undo(plan: &Plan, state: &SagaState, name: &StepName) -> bool {
    let Some(step) = plan.step(name) else { return false };
    let Some(st) = state.steps.get(name) else { return false };
    has_undo(&step.kind)
        && st.touched
        && !matches!(st.status, StepStatus::Undone | StepStatus::UndoFailed)
}

/// Steps waiting to be undone whose dependents are all gone (or never existed).
pub(crate) fn ready_to_undo(plan: &Plan, state: &SagaState) -> Vec<StepName> {
    plan.steps
        .iter()
        .filter(|s| needs_undo(plan, state, &s.name))
        .filter(|s| !status_of(state, &s.name).eq(&StepStatus::Undoing))
        .filter(|s| descendants(plan, &s.name).iter().all(|d| !blocks_undo(plan, state, d)))
        .map(|s| s.name.clone())
        .collect()
}

/// A dependent whose undo failed is not gone: its parents must stay too, or a resource
/// group delete would cascade over what the failed undo left (out of dependency order).
fn blocks_undo(plan: &Plan, state: &SagaState, name: &StepName) -> bool {
    needs_undo(plan, state, name) || status_of(state, name) == StepStatus::UndoFailed
}

pub(crate) fn status_of(state: &SagaState, name: &StepName) -> StepStatus {
    state.steps.get(name).map(|s| s.status).unwrap_or(StepStatus::Pending)
}

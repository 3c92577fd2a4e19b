//! The invariants checked after every seed. Each violation names its invariant, so a
//! failing seed reads as `seed 42: owns_nothing_after_undo: ...`.

use std::collections::{BTreeMap, BTreeSet};

use polaris_core::plan::model::{OWNER_TAG, Plan, StepKind};
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_sim::{LoggedRequest, SimResource};
use time::OffsetDateTime;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// Every ARM id a plan writes (resources, keys, subnets, role assignments), lower-cased.
pub fn planned_ids(plan: &Plan) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Arm(arm) => Some(arm.id.to_ascii_lowercase()),
            StepKind::Vault(v) => Some(v.arm.id.to_ascii_lowercase()),
            StepKind::Key(k) => Some(k.arm.id.to_ascii_lowercase()),
            StepKind::Verify(_) | StepKind::HealthCheck(_) => None,
        })
        .collect()
}

/// Terminal within `bound_secs` of simulated time, and never stuck with leftovers.
pub fn terminal_within_bound(
    state: &SagaState,
    terminal_at: Option<OffsetDateTime>,
    bound_secs: i64,
    out: &mut Vec<Violation>,
) {
    let id = &state.deployment_id;
    if !state.status.is_terminal() {
        let detail = format!("{id} still {} at the end of the run", state.status.as_str());
        out.push(Violation { invariant: "terminal_within_bound", detail });
        return;
    }
    if let Some(at) = terminal_at {
        let took = (at - state.created_at).whole_seconds();
        if took > bound_secs {
            let detail = format!("{id} took {took} s of simulated time (bound {bound_secs} s)");
            out.push(Violation { invariant: "terminal_within_bound", detail });
        }
    }
    if state.status == DeploymentStatus::Stuck {
        let why = state.failure.as_ref().map(|f| format!("{}: {}", f.code, f.message));
        let detail = format!("{id} stuck: {}", why.unwrap_or_default());
        out.push(Violation { invariant: "undo_completes", detail });
    }
}

/// A succeeded deployment owns exactly its planned resources; an undone one owns none.
pub fn ownership(
    state: &SagaState,
    plan: &Plan,
    inventory: &[SimResource],
    out: &mut Vec<Violation>,
) {
    let id = &state.deployment_id;
    let planned = planned_ids(plan);
    let tagged: BTreeSet<String> = inventory
        .iter()
        .filter(|r| r.tags.get(OWNER_TAG).map(String::as_str) == Some(id.as_str()))
        .map(|r| r.id.to_ascii_lowercase())
        .collect();
    let live: BTreeSet<String> = inventory.iter().map(|r| r.id.to_ascii_lowercase()).collect();

    match state.status {
        DeploymentStatus::Succeeded => {
            for missing in planned.difference(&live) {
                let detail = format!("{id} succeeded without {missing}");
                out.push(Violation { invariant: "succeeded_owns_planned", detail });
            }
            for extra in tagged.difference(&planned) {
                let detail = format!("{id} owns unplanned {extra}");
                out.push(Violation { invariant: "succeeded_owns_planned", detail });
            }
        }
        DeploymentStatus::Compensated
        | DeploymentStatus::Cancelled
        | DeploymentStatus::TornDown => {
            let left: BTreeSet<&String> =
                tagged.iter().chain(planned.intersection(&live)).collect();
            for leftover in left {
                let detail = format!("{id} is {} but {leftover} remains", state.status.as_str());
                out.push(Violation { invariant: "owns_nothing_after_undo", detail });
            }
        }
        _ => {}
    }
}

/// A resource is created (PUT answered 201) at most once between deletions.
pub fn no_duplicate_create(log: &[LoggedRequest], out: &mut Vec<Violation>) {
    let mut exists: BTreeMap<String, bool> = BTreeMap::new();
    for r in log {
        let path = r.path.to_ascii_lowercase();
        match (r.method.as_str(), r.status) {
            ("PUT", 201) if exists.insert(path.clone(), true) == Some(true) => {
                let detail = format!("{path} created twice without a delete between");
                out.push(Violation { invariant: "no_duplicate_create", detail });
            }
            ("DELETE", 200 | 202 | 204) => {
                // A resource group delete removes everything under it.
                exists.retain(|p, _| !p.starts_with(&path));
            }
            _ => {}
        }
    }
}

/// Nothing without our tag is modified or deleted: no write under a foreign prefix.
pub fn foreign_untouched(log: &[LoggedRequest], foreign: &[String], out: &mut Vec<Violation>) {
    for r in log.iter().filter(|r| r.method != "GET") {
        let path = r.path.to_ascii_lowercase();
        if let Some(f) = foreign.iter().find(|f| path.starts_with(&f.to_ascii_lowercase())) {
            let detail =
                format!("{} {} touched foreign {f} (status {})", r.method, r.path, r.status);
            out.push(Violation { invariant: "foreign_untouched", detail });
        }
    }
}

/// No canary in `text`, which came from `place`.
pub fn no_canary(
    invariant: &'static str,
    place: &str,
    text: &str,
    canaries: &[String],
    out: &mut Vec<Violation>,
) {
    for canary in canaries.iter().filter(|c| text.contains(c.as_str())) {
        out.push(Violation { invariant, detail: format!("`{canary}` appears in {place}") });
    }
}

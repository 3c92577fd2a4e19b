//! Which deployment created a resource, from saga state alone.

use polaris_core::ids::DeploymentId;
use polaris_core::plan::model::StepKind;
use polaris_core::saga::{DeploymentStatus, SagaState};
use time::OffsetDateTime;

use crate::app::App;
use crate::error::WorkerError;
use crate::planning::plan_for;

/// ARM ids of everything the deployment's plan creates. Resources it only references (an
/// existing subnet it verifies) are not ours and are left out.
pub fn owned_resource_ids(state: &SagaState) -> Vec<String> {
    let Ok(plan) = plan_for(state) else { return Vec::new() };
    plan.steps
        .iter()
        .filter_map(|step| match &step.kind {
            StepKind::Arm(r) => Some(r.id.clone()),
            StepKind::Vault(v) => Some(v.arm.id.clone()),
            StepKind::Key(k) => Some(k.arm.id.clone()),
            StepKind::Verify(_) | StepKind::HealthCheck(_) => None,
        })
        // An id still holding a placeholder names nothing concrete yet.
        .filter(|id| !id.contains("${"))
        .collect()
}

fn normalize(id: &str) -> String {
    let id = id.split('?').next().unwrap_or(id);
    let id = id.trim().trim_end_matches('/');
    // Event Grid sends ids as ARM paths; tolerate a full management URL.
    let path = match id.find("/subscriptions/") {
        Some(at) => &id[at..],
        None => id,
    };
    path.to_ascii_lowercase()
}

/// The live deployment that created `resource`. Deployments created after the event was
/// raised cannot be meant by it (a late delete event of an earlier teardown must not hit a
/// redeploy of the same spec, whose resources have the same names).
pub async fn find_owner(
    app: &App,
    resource: &str,
    event_time: Option<OffsetDateTime>,
) -> Result<Option<DeploymentId>, WorkerError> {
    let wanted = normalize(resource);
    if !wanted.starts_with("/subscriptions/") {
        return Ok(None);
    }

    let mut after: Option<String> = None;
    loop {
        let page = app.deployments.list(None, after.as_deref(), 100).await?;
        for state in &page.items {
            use DeploymentStatus as S;
            if matches!(state.status, S::TornDown | S::Cancelled | S::Abandoned) {
                continue;
            }
            if event_time.is_some_and(|t| t < state.created_at) {
                continue;
            }
            if owned_resource_ids(state).iter().any(|id| normalize(id) == wanted) {
                return Ok(Some(state.deployment_id.clone()));
            }
        }
        match page.continuation {
            Some(next) => after = Some(next),
            None => return Ok(None),
        }
    }
}

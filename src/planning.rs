//! Rebuilds a deployment's plan from its saga state. The plan is never stored: it is a pure
//! function of the redacted spec, the deployment id and the tenant.

use polaris_core::plan::Plan;
use polaris_core::plan::build::{PlanContext, build_plan};
use polaris_core::saga::SagaState;
use polaris_core::spec::DeploymentSpec;

use crate::error::WorkerError;

pub fn plan_for(state: &SagaState) -> Result<Plan, WorkerError> {
    let spec: DeploymentSpec = serde_json::from_value(state.spec.clone()).map_err(|e| {
        WorkerError::CorruptState { id: state.deployment_id.to_string(), why: e.to_string() }
    })?;
    let ctx = PlanContext {
        deployment_id: state.deployment_id.clone(),
        tenant_id: state.tenant_id.clone(),
    };
    let plan = build_plan(&spec, &ctx).map_err(|e| WorkerError::CorruptState {
        id: state.deployment_id.to_string(),
        why: format!("the stored spec no longer plans: {e}"),
    })?;
    Ok(plan)
}

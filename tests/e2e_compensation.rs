//! Issue 2: a permanent failure injected at each step in turn ends `Compensated` with nothing
//! of the deployment left in simulated Azure, and the failure names the step; an undo that
//! fails ends `Stuck` with the reason (and a redrive finishes the cleanup).

mod support;

use polaris_core::plan::model::StepKind;
use polaris_core::saga::{DeploymentStatus, Phase, SagaState};
use polaris_sim::{Fault, FaultRule};
use serde_json::{Value, json};
use support::faults::{lro_fails, on, status};
use support::{Harness, Setup, events_of, example, resource_id, with};

/// How the failure of one step is provoked, and the code the saga must report.
struct Injection {
    rule: FaultRule,
    code: &'static str,
}

/// A 400 on the step's PUT; for the health check, what makes the probe fail for good.
fn put_rejected(h: &Harness, state: &SagaState, step: &str) -> Injection {
    let plan = h.plan(state);
    let planned = plan.steps.iter().find(|s| s.name.as_str() == step).expect("planned");
    match &planned.kind {
        StepKind::HealthCheck(check) if check.key_release_path.is_some() => {
            let fault = Fault::KeyReleaseFails { reason: "injected: attestation refused".into() };
            let rule = FaultRule::on("/polaris-container/publicKey", fault);
            Injection { rule, code: "KeyReleaseFailed" }
        }
        // Standard mode: the proxy never becomes live, so the step runs into its deadline.
        StepKind::HealthCheck(_) => {
            let rule = FaultRule::on("/polaris-container/health", Fault::HealthCheck503);
            Injection { rule, code: "StepDeadlineExceeded" }
        }
        _ => {
            let id = resource_id(&plan, step).expect("an ARM step");
            let rule = on("PUT", &id, status(400, "InvalidRequestContent"));
            Injection { rule, code: "InvalidRequestContent" }
        }
    }
}

/// The operation the step's PUT starts ends `Failed`.
fn lro_ended_failed(h: &Harness, state: &SagaState, step: &str) -> Injection {
    let id = resource_id(&h.plan(state), step).expect("an ARM step");
    let fault = lro_fails("InjectedProvisioningFailure", "the operation failed (injected)");
    Injection { rule: on("PUT", &id, fault), code: "InjectedProvisioningFailure" }
}

type Inject = fn(&Harness, &SagaState, &str) -> Injection;

/// Deploys `spec` with the failure at `step` and checks the saga cleaned up after itself.
async fn fails_at(spec: &Value, step: &str, inject: Inject) {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(spec, &format!("fail-{step}")).await;
    let injection = inject(&h, &accepted, step);
    h.sim().faults().push(injection.rule).expect("valid rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{step}: {:#?}", state.history);
    let failure = state.failure.as_ref().expect("the failure is recorded");
    assert_eq!(failure.step.as_str(), step, "the failure names the step");
    assert_eq!(failure.phase, Phase::Do);
    assert_eq!(failure.code, injection.code, "{step}: {}", failure.message);
    assert!(events_of(&state, step).contains(&"failed".to_owned()), "{step}");
    assert_nothing_left(&h, &state);
}

/// Nothing tagged with the deployment, nothing in its resource group, no vault retained.
fn assert_nothing_left(h: &Harness, state: &SagaState) {
    let id = &state.deployment_id;
    assert_eq!(h.tagged(id), vec![], "resources tagged {id} remain");
    let rg = resource_id(&h.plan(state), "resource_group").expect("a resource group");
    let rg_name = support::last_segment(&rg);
    assert_eq!(h.in_group(rg_name), vec![], "resources remain in {rg_name}");
    assert_eq!(h.sim().soft_deleted_vaults(), vec![], "the vault was purged");
}

async fn every_step_fails_in_turn(spec: Value, inject: Inject, only: &[&str]) {
    let steps = {
        let h = support::start(Setup::default()).await;
        let accepted = h.submit(&spec, "steps").await;
        support::step_names(&h.plan(&accepted))
    };
    for step in steps.iter().filter(|s| only.is_empty() || only.contains(&s.as_str())) {
        fails_at(&spec, step, inject).await;
    }
}

#[tokio::test]
async fn permanent_failure_at_each_enhanced_private_step_compensates_to_nothing() {
    every_step_fails_in_turn(example("private.json"), put_rejected, &[]).await;
}

#[tokio::test]
async fn permanent_failure_at_each_enhanced_public_step_compensates_to_nothing() {
    every_step_fails_in_turn(example("enhanced.json"), put_rejected, &[]).await;
}

#[tokio::test]
async fn permanent_failure_at_each_standard_step_compensates_to_nothing() {
    every_step_fails_in_turn(example("standard.json"), put_rejected, &[]).await;
    let private = with(example("private.json"), json!({ "enable_key_vault": false }));
    every_step_fails_in_turn(private, put_rejected, &[]).await;
}

#[tokio::test]
async fn lro_ending_failed_at_each_long_running_step_compensates_to_nothing() {
    let lro_steps = ["nsg", "vnet", "subnet", "container_group"];
    every_step_fails_in_turn(example("private.json"), lro_ended_failed, &lro_steps).await;
}

/// The container group is refused, and the VNet cannot be deleted during compensation.
async fn stuck_on_vnet_delete(delete_fault: Fault) -> (Harness, SagaState, String) {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("private.json"), "stuck").await;
    let plan = h.plan(&accepted);
    let group = resource_id(&plan, "container_group").expect("group");
    let vnet = resource_id(&plan, "vnet").expect("vnet");
    let faults = h.sim().faults();
    faults.push(on("PUT", &group, status(400, "InvalidContainerGroup"))).expect("rule");
    faults.push(on("DELETE", &vnet, delete_fault)).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    (h, state, vnet)
}

#[tokio::test]
async fn failing_undo_ends_stuck_with_the_reason_and_a_redrive_cleans_up() {
    let (h, state, vnet) = stuck_on_vnet_delete(status(409, "InjectedDeleteRefused")).await;

    assert_eq!(state.status, DeploymentStatus::Stuck, "{:#?}", state.history);
    let failure = state.failure.as_ref().expect("the reason is recorded");
    assert_eq!((failure.step.as_str(), failure.phase), ("vnet", Phase::Undo));
    assert_eq!(failure.code, "InjectedDeleteRefused");
    let last = state.history.last().expect("history");
    assert_eq!(last.event, "deployment_stuck");
    assert!(last.detail.contains("`vnet`") && last.detail.contains("InjectedDeleteRefused"));
    // Nothing was silently given up: the VNet and the group holding it are still there.
    let left: Vec<String> = h.tagged(&state.deployment_id).into_iter().map(|r| r.id).collect();
    let rg = resource_id(&h.plan(&state), "resource_group").expect("a resource group");
    for kept in [&vnet, &rg] {
        let found = left.iter().any(|id| id.eq_ignore_ascii_case(kept));
        assert!(found, "{kept} was removed: {left:?} {}", support::history(&state));
    }

    h.sim().faults().clear();
    h.rt.app.deployments.retry(&state.deployment_id).await.expect("stuck can be redriven");
    h.run().await;

    let state = h.state(&state.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{:#?}", state.history);
    assert_nothing_left(&h, &state);
}

#[tokio::test]
async fn undo_failing_transiently_ends_stuck_after_bounded_attempts() {
    let (h, state, vnet) = stuck_on_vnet_delete(status(500, "InternalServerError")).await;

    assert_eq!(state.status, DeploymentStatus::Stuck, "{:#?}", state.history);
    let failure = state.failure.as_ref().expect("the reason is recorded");
    assert_eq!((failure.step.as_str(), failure.phase), ("vnet", Phase::Undo));
    let attempts = support::config_undo_attempts();
    let gave_up = format!("gave up after {attempts} attempts");
    assert!(failure.message.contains(&gave_up), "{failure:?}");
    let deletes = support::log::on(&h.sim().request_log(), "DELETE", &vnet).len();
    assert_eq!(deletes, attempts as usize, "one DELETE per undo attempt");
}

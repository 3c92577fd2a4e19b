//! Field reports B06, B07, B15 and B30 replayed on simulated Azure through the whole
//! orchestrator (queue, worker, saga, executor), with every chaos invariant checked after.

use polaris::chaos::Harness;
use polaris::chaos::specs::{PlannedDeployment, spec};
use polaris_core::saga::DeploymentStatus;
use polaris_sim::{Fault, FaultPlan, FaultRule, LatencyProfile, LoggedRequest};

fn enhanced_public() -> PlannedDeployment {
    spec(true, false, true, "field", 5)
}

fn is_group(r: &LoggedRequest) -> bool {
    r.path.to_ascii_lowercase().contains("/containergroups/")
        && !r.path.to_ascii_lowercase().contains("/operations")
}

fn lro_fails(message: &str) -> FaultPlan {
    let fault =
        Fault::LroFails { code: "ContainerGroupDeploymentFailed".into(), message: message.into() };
    FaultPlan::default().with(FaultRule::on("/containerGroups/", fault).method("PUT"))
}

async fn assert_invariants(h: &mut Harness) {
    let violations = h.violations(None).await;
    assert!(violations.is_empty(), "{violations:#?}");
}

/// B06: the platform injects an env var the CCE policy denies. Non-retryable, named,
/// compensated: one PUT, the group deleted, no key release, no abandoned message.
#[tokio::test]
async fn b06_cce_policy_denied_env_var_compensates_after_one_put() {
    let faults =
        lro_fails("container creation denied by policy: invalid env list: APP_IDENTITY_ENDPOINT");
    let mut h = Harness::start(LatencyProfile::realistic(), faults, None).await;
    let id = h.submit(&enhanced_public()).await;
    h.drive().await;

    let state = h.state(&id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated);
    let failure = state.failure.expect("the failure is recorded");
    assert_eq!(failure.code, "CcePolicyDenied");
    assert!(failure.message.contains("APP_IDENTITY_ENDPOINT"), "{}", failure.message);

    let log = h.world.sim.request_log();
    let puts = log.iter().filter(|r| is_group(r) && r.method == "PUT").count();
    let deletes = log.iter().filter(|r| is_group(r) && r.method == "DELETE").count();
    assert_eq!(puts, 1, "the same spec is never PUT again");
    assert!(deletes >= 1, "the failed group is deleted");
    assert!(!log.iter().any(|r| r.path.contains("/release") || r.path.contains("publicKey")));
    assert_eq!(h.world.queue.stats().abandoned, 0, "messages are completed, not abandoned");
    assert_invariants(&mut h).await;
}

/// B07: image layers differ from the policy (`deviceHash not found`): non-retryable,
/// exactly one PUT, then compensation.
#[tokio::test]
async fn b07_device_hash_not_found_is_non_retryable() {
    let faults = lro_fails("mount denied by policy: deviceHash not found");
    let mut h = Harness::start(LatencyProfile::realistic(), faults, None).await;
    let id = h.submit(&enhanced_public()).await;
    h.drive().await;

    let state = h.state(&id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated);
    let failure = state.failure.expect("the failure is recorded");
    assert_eq!(failure.code, "CcePolicyLayerMismatch");
    let log = h.world.sim.request_log();
    assert_eq!(log.iter().filter(|r| is_group(r) && r.method == "PUT").count(), 1);
    assert_invariants(&mut h).await;
}

/// B15: `Retry-After: 900` is longer than an invocation may wait. The step is rescheduled
/// for then (a scheduled continuation, no sleep), the message completes, and the next PUT
/// comes no earlier than 900 s of simulated time later.
#[tokio::test]
async fn b15_long_retry_after_becomes_a_scheduled_continuation() {
    let fault = Fault::Status {
        status: 429,
        code: "ResourceRequestsThrottled".into(),
        message: "Number of requests exceeded the limit; try again after 900 seconds".into(),
        retry_after: Some(900),
    };
    let rule = FaultRule::on("/containerGroups/", fault).method("PUT").times(1);
    let faults = FaultPlan::default().with(rule);
    let mut h = Harness::start(LatencyProfile::realistic(), faults, None).await;
    let id = h.submit(&enhanced_public()).await;
    h.drive().await;

    assert_eq!(h.state(&id).await.status, DeploymentStatus::Succeeded);
    let log = h.world.sim.request_log();
    let puts: Vec<_> = log.iter().filter(|r| is_group(r) && r.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "one throttled PUT, one after the wait");
    assert_eq!(puts[0].status, 429);
    assert!(puts[1].time - puts[0].time >= time::Duration::seconds(900));
    let history = h.state(&id).await.history;
    assert!(history.iter().any(|e| e.event == "retry_scheduled"), "{history:#?}");
    assert_eq!(h.world.queue.stats().abandoned, 0);
    assert_invariants(&mut h).await;
}

/// B30: the proxy answers 200 but the sidecar cannot release the key. The health check
/// covers key release, so the deployment is not "succeeded": it compensates.
#[tokio::test]
async fn b30_key_release_failure_fails_the_health_check_and_compensates() {
    let fault = Fault::KeyReleaseFails {
        reason: "attestation failed: x509: certificate signed by unknown authority".into(),
    };
    let faults = FaultPlan::default().with(FaultRule::on("/polaris-container/publicKey", fault));
    let mut h = Harness::start(LatencyProfile::realistic(), faults, None).await;
    let id = h.submit(&enhanced_public()).await;
    h.drive().await;

    let state = h.state(&id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated);
    let failure = state.failure.expect("the failure is recorded");
    assert_eq!(
        (failure.step.as_str(), failure.code.as_str()),
        ("health_check", "KeyReleaseFailed")
    );
    assert_invariants(&mut h).await;
}

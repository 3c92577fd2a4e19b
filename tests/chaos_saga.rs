//! The four saga tests (succeed; fail at each step and leave a clean slate; fail at each step
//! with every undo run twice; run every step twice) for the deploy and teardown sagas, on
//! simulated Azure with every chaos invariant checked afterwards.

use polaris::chaos::specs::{PlannedDeployment, spec};
use polaris::chaos::{Harness, Injection};
use polaris_core::ids::DeploymentId;
use polaris_core::saga::{DeploymentStatus, Phase};
use polaris_sim::{FaultPlan, LatencyProfile};

/// The shapes with the most steps and the fewest: enhanced/Private and standard/Public.
fn shapes() -> Vec<PlannedDeployment> {
    vec![spec(true, true, true, "saga-enh", 1), spec(false, false, false, "saga-std", 2)]
}

async fn harness(injection: Injection) -> Harness {
    Harness::start(LatencyProfile::realistic(), FaultPlan::default(), Some(injection)).await
}

async fn step_names(planned: &PlannedDeployment) -> Vec<String> {
    let h = harness(Injection::default()).await;
    let (_, plan) = h.world.app.deployments.plan(&planned.spec).expect("the spec plans");
    plan.steps.iter().map(|s| s.name.to_string()).collect()
}

async fn assert_clean(h: &mut Harness, context: &str) {
    let violations = h.violations(None).await;
    assert!(violations.is_empty(), "{context}: {violations:#?}");
}

/// Deploys and drives to a terminal state.
async fn deploy(h: &mut Harness, planned: &PlannedDeployment) -> DeploymentId {
    let id = h.submit(planned).await;
    h.drive().await;
    id
}

#[tokio::test]
async fn deploy_saga_succeeds() {
    for planned in shapes() {
        let mut h = harness(Injection::default()).await;
        let id = deploy(&mut h, &planned).await;
        assert_eq!(h.state(&id).await.status, DeploymentStatus::Succeeded);
        assert_clean(&mut h, "deploy").await;
    }
}

async fn fail_each_step(undo_twice: bool) {
    for planned in shapes() {
        for step in step_names(&planned).await {
            let injection =
                Injection { fail_do: Some(step.clone()), undo_twice, ..Injection::default() };
            let mut h = harness(injection).await;
            let id = deploy(&mut h, &planned).await;
            let state = h.state(&id).await;
            assert_eq!(state.status, DeploymentStatus::Compensated, "failing {step}");
            let failure = state.failure.expect("the failure is recorded");
            assert_eq!((failure.step.as_str(), failure.phase), (step.as_str(), Phase::Do));
            assert_clean(&mut h, &format!("failing {step}")).await;
        }
    }
}

#[tokio::test]
async fn deploy_saga_fails_at_each_step_and_leaves_a_clean_slate() {
    fail_each_step(false).await;
}

#[tokio::test]
async fn deploy_saga_fails_at_each_step_with_every_undo_run_twice() {
    fail_each_step(true).await;
}

#[tokio::test]
async fn deploy_saga_runs_every_step_twice() {
    for planned in shapes() {
        let mut h = harness(Injection { do_twice: true, ..Injection::default() }).await;
        let id = deploy(&mut h, &planned).await;
        assert_eq!(h.state(&id).await.status, DeploymentStatus::Succeeded);
        assert_clean(&mut h, "every step twice").await;
    }
}

#[tokio::test]
async fn teardown_saga_succeeds() {
    for planned in shapes() {
        let mut h = harness(Injection::default()).await;
        let id = deploy(&mut h, &planned).await;
        h.teardown(&id).await;
        h.drive().await;
        assert_eq!(h.state(&id).await.status, DeploymentStatus::TornDown);
        assert_clean(&mut h, "teardown").await;
    }
}

/// An undo that fails leaves the deployment stuck with the reason; a redrive finishes it.
async fn fail_each_undo(undo_twice: bool) {
    for planned in shapes() {
        for step in step_names(&planned).await {
            let injection = Injection {
                fail_undo_once: Some(step.clone()),
                undo_twice,
                ..Injection::default()
            };
            let mut h = harness(injection).await;
            let id = deploy(&mut h, &planned).await;
            h.teardown(&id).await;
            h.drive().await;
            let state = h.state(&id).await;
            if state.status == DeploymentStatus::Stuck {
                let failure = state.failure.expect("a stuck deployment says why");
                assert_eq!(failure.step.as_str(), step);
                h.retry(&id).await;
                h.drive().await;
            }
            assert_eq!(h.state(&id).await.status, DeploymentStatus::TornDown, "failing {step}");
            assert_clean(&mut h, &format!("failing the undo of {step}")).await;
        }
    }
}

#[tokio::test]
async fn teardown_saga_fails_at_each_step_and_leaves_a_clean_slate() {
    fail_each_undo(false).await;
}

#[tokio::test]
async fn teardown_saga_fails_at_each_step_with_every_undo_run_twice() {
    fail_each_undo(true).await;
}

#[tokio::test]
async fn teardown_saga_runs_every_step_twice() {
    for planned in shapes() {
        let injection = Injection { do_twice: true, undo_twice: true, ..Injection::default() };
        let mut h = harness(injection).await;
        let id = deploy(&mut h, &planned).await;
        h.teardown(&id).await;
        h.drive().await;
        assert_eq!(h.state(&id).await.status, DeploymentStatus::TornDown);
        assert_clean(&mut h, "every undo twice").await;
    }
}

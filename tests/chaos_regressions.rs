//! Regressions found by the chaos harness and the saga tests, each named after what broke.

use polaris::chaos::specs::spec;
use polaris::chaos::{ChaosConfig, Harness, Injection, run_seed_blocking};
use polaris_core::saga::DeploymentStatus;
use polaris_sim::{FaultPlan, LatencyProfile};

/// Found by `deploy_saga_fails_at_each_step_and_leaves_a_clean_slate`: a step that failed
/// permanently after its write took effect (the executor's `OutputMissing` after a created
/// resource) was marked failed but not touched, so compensation skipped it and the
/// resource group outlived the compensated deployment.
#[tokio::test]
async fn regression_permanent_failure_after_write_is_undone() {
    let injection = Injection { fail_do: Some("resource_group".into()), ..Injection::default() };
    let mut h =
        Harness::start(LatencyProfile::realistic(), FaultPlan::default(), Some(injection)).await;
    let planned = spec(false, false, false, "regression-rg", 3);
    let id = h.submit(&planned).await;
    h.drive().await;

    assert_eq!(h.state(&id).await.status, DeploymentStatus::Compensated);
    let violations = h.violations(None).await;
    assert!(violations.is_empty(), "{violations:#?}");
}

/// A seed replays: the same seed gives the same run, message for message.
#[test]
fn a_seed_replays_exactly() {
    let cfg = ChaosConfig::default();
    let first = run_seed_blocking(17, &cfg);
    let second = run_seed_blocking(17, &cfg);
    assert_eq!(first.statuses, second.statuses);
    assert_eq!(first.stats.handled, second.stats.handled);
    assert_eq!(first.simulated, second.simulated);
    assert!(first.passed(), "{:#?}", first.violations);
}

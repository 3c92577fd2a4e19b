//! Issue 2: a transient 429 with `Retry-After: 17` on one PUT is retried no sooner than 17 s
//! of simulated time, through a scheduled continuation, and the deployment still succeeds.

mod support;

use polaris_core::saga::DeploymentStatus;
use support::faults::{on, throttled};
use support::{Setup, example, log, resource_id};

#[tokio::test]
async fn put_throttled_with_retry_after_17_is_retried_no_sooner_than_17_simulated_seconds() {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("private.json"), "throttled").await;
    let vnet = resource_id(&h.plan(&accepted), "vnet").expect("a vnet");
    h.sim().faults().push(on("PUT", &vnet, throttled(17)).times(1)).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));
    let requests = h.sim().request_log();
    let puts = log::on(&requests, "PUT", &vnet);
    assert_eq!(puts.iter().map(|p| p.status).collect::<Vec<_>>(), [429, 201]);
    let gap = log::gap_secs(puts[0], puts[1]);
    assert!(gap >= 17, "retried after {gap} s of simulated time");

    // The wait was a scheduled retry of the step, not a sleep inside one invocation.
    let retry = state.history.iter().find(|e| e.event == "retry_scheduled").expect("a retry");
    assert_eq!(retry.step.as_ref().map(|s| s.as_str()), Some("vnet"));
    assert!(retry.detail.contains("in 17s"), "{}", retry.detail);
}

//! Field report B14 (`../shared/cases/field-reports.md`) through the whole saga: 429 with
//! `Retry-After: 17` is honoured on every attempt, in simulated time, and a throttle that
//! never lifts ends in a classified failure after bounded attempts, not a parse error.

mod support;

use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_sim::LoggedRequest;
use support::faults::{on, throttled};
use support::{Harness, Setup, example, log, resource_id};

/// Deploys the enhanced example with the vault PUT throttled `times` times (all if `None`).
async fn vault_throttled(
    times: Option<u32>,
    key: &str,
) -> (Harness, SagaState, Vec<LoggedRequest>) {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("enhanced.json"), key).await;
    let vault = resource_id(&h.plan(&accepted), "vault").expect("a vault");
    let mut rule = on("PUT", &vault, throttled(17));
    rule.times = times;
    h.sim().faults().push(rule).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    let puts = log::on(&h.sim().request_log(), "PUT", &vault).into_iter().cloned().collect();
    (h, state, puts)
}

fn gaps(puts: &[LoggedRequest]) -> Vec<i64> {
    puts.windows(2).map(|w| log::gap_secs(&w[0], &w[1])).collect()
}

#[tokio::test]
async fn b14_two_429s_with_retry_after_17_then_success_take_three_requests_17s_apart() {
    let (_h, state, puts) = vault_throttled(Some(2), "b14").await;

    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));
    let statuses: Vec<u16> = puts.iter().map(|p| p.status).collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    assert_eq!(&statuses[..2], [429, 429]);
    assert!((200..300).contains(&statuses[2]), "{statuses:?}");
    let gaps = gaps(&puts);
    assert!(gaps.iter().all(|g| *g >= 17), "waits {gaps:?}");
    assert!(gaps.iter().sum::<i64>() >= 34, "waits {gaps:?}");
}

#[tokio::test]
async fn b14_a_throttle_that_never_lifts_fails_classified_after_bounded_attempts() {
    let (h, state, puts) = vault_throttled(None, "b14-forever").await;

    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    assert_eq!((failure.step.as_str(), failure.code.as_str()), ("vault", "TooManyRequests"));
    let attempts = support::saga_config().max_attempts;
    let gave_up = format!("gave up after {attempts} attempts");
    assert!(failure.message.contains(&gave_up), "{failure:?}");
    assert_eq!(puts.len(), attempts as usize);
    assert!(gaps(&puts).iter().all(|g| *g >= 17), "waits {:?}", gaps(&puts));
    assert_eq!(h.tagged(&state.deployment_id), vec![]);
}

//! Throttling against the fake, in virtual time: B14 (429 with `Retry-After: 17` is retried
//! until it succeeds, each wait honoured) and B15 (a `Retry-After` beyond the budget is
//! handed back to the saga instead of slept).

mod support;

use std::sync::Arc;
use std::time::Duration;

use polaris_azure::{ArmError, RetryPolicy, VirtualClock};
use serde_json::json;
use support::{FakeAzure, Reply, arm_client, rid};

fn rg_path() -> String {
    rid("Microsoft.Storage/storageAccounts/x")
}

fn throttled(secs: &str) -> Reply {
    Reply::error(429, "TooManyRequests", "Too many requests").header("Retry-After", secs)
}

#[tokio::test]
async fn b14_two_throttles_then_success_waits_at_least_17s_each() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    let ok =
        Reply::json(200, json!({"id": path, "properties": {"provisioningState": "Succeeded"}}));
    fake.on("GET", &path, vec![throttled("17"), throttled("17"), ok]);
    let clock = VirtualClock::new();
    let arm = arm_client(&fake, Arc::new(clock.clone()), RetryPolicy::default());

    let answer = arm.get(&path, "2024-01-01").await.expect("third attempt succeeds");

    assert_eq!(answer.status, 200);
    assert_eq!(fake.count("GET", &path), 3);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!(sleeps.iter().all(|s| *s >= Duration::from_secs(17)), "{sleeps:?}");
    assert!(clock.total_slept() >= Duration::from_secs(34));
}

#[tokio::test]
async fn b14_persisting_throttle_ends_as_throttled_not_as_a_parse_error() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    // A throttling answer whose body is not even JSON.
    let odd = Reply::raw(429, "<html>slow down</html>").header("Retry-After", "17");
    fake.on("GET", &path, vec![odd]);
    let clock = VirtualClock::new();
    let arm = arm_client(&fake, Arc::new(clock.clone()), RetryPolicy::default());

    let err = arm.get(&path, "2024-01-01").await.expect_err("always throttled");

    match &err {
        ArmError::Throttled(e) => {
            assert_eq!(e.retry_after_secs, Some(17));
            assert_eq!(e.status, 429);
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    // Default budget 40 s: two waits of 17 s fit, a third would not.
    assert_eq!(fake.count("GET", &path), 3);
    assert!(clock.total_slept() <= Duration::from_secs(40));
    assert!(err.request_id().is_some());
}

#[tokio::test]
async fn b15_retry_after_beyond_the_budget_returns_at_once() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    fake.on(
        "PUT",
        &path,
        vec![
            Reply::error(429, "ResourceRequestsThrottled", "try again after 900 seconds")
                .header("Retry-After", "900"),
        ],
    );
    let clock = VirtualClock::new();
    let budget =
        RetryPolicy { max_total_wait: Duration::from_secs(300), ..RetryPolicy::default() };
    let arm = arm_client(&fake, Arc::new(clock.clone()), budget);

    let err = arm.put(&path, "2024-01-01", &json!({"location": "westeurope"})).await;

    let err = err.expect_err("throttled beyond the budget");
    assert!(matches!(err, ArmError::Throttled(_)), "{err:?}");
    assert_eq!(err.retry_after_secs(), Some(900));
    assert_eq!(fake.count("PUT", &path), 1, "no second attempt");
    assert!(clock.sleeps().is_empty(), "no sleep at all: {:?}", clock.sleeps());
}

#[tokio::test]
async fn b15_short_retry_after_is_retried_in_process() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    let ok = Reply::json(200, json!({"id": path}));
    fake.on("GET", &path, vec![throttled("5"), ok]);
    let clock = VirtualClock::new();
    let budget =
        RetryPolicy { max_total_wait: Duration::from_secs(300), ..RetryPolicy::default() };
    let arm = arm_client(&fake, Arc::new(clock.clone()), budget);

    let answer = arm.get(&path, "2024-01-01").await.expect("second attempt succeeds");

    assert_eq!(answer.status, 200);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(5)]);
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(20);
    let date = at
        .format(&time::format_description::well_known::Rfc2822)
        .expect("format")
        .replace("+0000", "GMT");
    fake.on("GET", &path, vec![throttled(&date), Reply::json(200, json!({}))]);
    let clock = VirtualClock::new();
    let arm = arm_client(&fake, Arc::new(clock.clone()), RetryPolicy::default());

    arm.get(&path, "2024-01-01").await.expect("second attempt succeeds");

    let slept = clock.total_slept();
    assert!(slept >= Duration::from_secs(18) && slept <= Duration::from_secs(21), "{slept:?}");
}

#[tokio::test]
async fn server_errors_are_retried_and_client_errors_are_not() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    fake.on(
        "GET",
        &path,
        vec![Reply::error(503, "ServiceUnavailable", "busy"), Reply::json(200, json!({}))],
    );
    let bad = rid("Microsoft.Storage/storageAccounts/bad");
    fake.on("PUT", &bad, vec![Reply::error(400, "InvalidParameter", "no")]);
    let clock = VirtualClock::new();
    let arm = arm_client(&fake, Arc::new(clock.clone()), RetryPolicy::default());

    arm.get(&path, "2024-01-01").await.expect("retried after 503");
    let err = arm.put(&bad, "2024-01-01", &json!({})).await.expect_err("400");

    assert_eq!(fake.count("GET", &path), 2);
    assert_eq!(fake.count("PUT", &bad), 1);
    assert_eq!(err.code(), Some("InvalidParameter"));
}

#[tokio::test]
async fn every_request_carries_a_bearer_token_and_api_version() {
    let fake = FakeAzure::start().await;
    let path = rg_path();
    fake.on("GET", &path, vec![Reply::json(200, json!({}))]);
    let arm = arm_client(&fake, Arc::new(VirtualClock::new()), RetryPolicy::default());

    arm.get(&path, "2024-01-01").await.expect("ok");

    let request = &fake.requests()[0];
    assert!(request.headers["authorization"].starts_with("Bearer "));
    assert_eq!(request.query, "api-version=2024-01-01");
}

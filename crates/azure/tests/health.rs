//! `HealthCheck` against a fake Polaris proxy on plain HTTP loopback (B30): liveness alone is
//! not health; the key must be releasable.

mod support;

use std::net::SocketAddr;

use polaris_core::action::{Action, FailureClass, OperationKind, Outcome};
use polaris_core::plan::model::HealthCheckSpec;
use support::{FakeAzure, ctx, executor};
use warp::Filter;
use warp::http::StatusCode;

/// A proxy answering liveness with `health` and key release with `(status, body)`.
async fn fake_proxy(health: u16, key_status: u16, key_body: &'static str) -> SocketAddr {
    let health_route = warp::path!("polaris-container" / "health").map(move || {
        let status = StatusCode::from_u16(health).expect("status");
        warp::reply::with_status(r#"{"status":"ok"}"#, status)
    });
    let key_route = warp::path!("polaris-container" / "publicKey").map(move || {
        let status = StatusCode::from_u16(key_status).expect("status");
        warp::reply::with_status(key_body, status)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = warp::serve(health_route.or(key_route)).incoming(listener);
    tokio::spawn(server.run());
    addr
}

fn check(addr: SocketAddr, key_release: bool) -> Action {
    Action::HealthCheck {
        check: HealthCheckSpec {
            host: addr.ip().to_string(),
            port: addr.port(),
            health_path: "/polaris-container/health".into(),
            key_release_path: key_release.then(|| "/polaris-container/publicKey".into()),
        },
    }
}

#[tokio::test]
async fn live_proxy_with_released_key_is_healthy() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let proxy =
        fake_proxy(200, 200, r#"{"publicKey":"-----BEGIN PUBLIC KEY-----\nMII..."}"#).await;

    let outcome = exec.execute(&check(proxy, true), &ctx("health")).await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
}

#[tokio::test]
async fn b30_live_proxy_that_cannot_release_the_key_fails_with_its_error() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let error =
        r#"{"error":"SKR failed: attestation: x509: certificate signed by unknown authority"}"#;
    let proxy = fake_proxy(200, 400, error).await;

    let outcome = exec.execute(&check(proxy, true), &ctx("health")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "KeyReleaseFailed")
    );
    assert!(
        failure.message.contains("certificate signed by unknown authority"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn standard_mode_needs_only_liveness() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let proxy = fake_proxy(200, 500, "").await;

    let outcome = exec.execute(&check(proxy, false), &ctx("health")).await;

    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
}

#[tokio::test]
async fn proxy_not_up_yet_is_in_progress_and_can_be_polled() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };

    let outcome = exec.execute(&check(refused, true), &ctx("health")).await;

    let Outcome::InProgress { operation, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(operation.kind, OperationKind::Health);
    assert!(operation.url.ends_with("/polaris-container/health"));
    assert!(operation.resource_id.ends_with("/polaris-container/publicKey"));

    let again = exec.execute(&Action::Poll { operation, outputs: vec![] }, &ctx("health")).await;
    assert!(matches!(again, Outcome::InProgress { .. }), "{again:?}");
}

#[tokio::test]
async fn liveness_5xx_is_in_progress() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let proxy = fake_proxy(503, 200, "").await;

    let outcome = exec.execute(&check(proxy, true), &ctx("health")).await;

    assert!(matches!(outcome, Outcome::InProgress { .. }), "{outcome:?}");
}

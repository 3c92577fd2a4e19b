//! The custom handler's routes as the Functions host sees them: one per function, JSON on
//! every answer, dead letters acknowledged and recorded, retries answered 500.

mod serve_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use polaris::clock::VirtualClock;
use polaris::secrets::MemorySecretStore;
use polaris::serve::{DEAD_LETTER_PREFIX, DeadLetterRecord, ServeContext, routes};
use polaris::store::MemoryStore;
use polaris_core::action::{Action, ExecContext, FailureClass, Outcome, StepFailure};
use polaris_core::ports::{
    ETag, Executor, Lease, StateStore, StoreError, Versioned, WriteCondition,
};
use polaris_core::saga::WorkMessage;
use polaris_host::{FUNCTIONS, TriggerKind};
use serde_json::{Value, json};
use serve_support::{Parts, RecordingSender, app, post, sb_envelope};

/// Never called in these tests; counts calls to prove it.
struct NoAzure(AtomicUsize);

#[async_trait]
impl Executor for NoAzure {
    async fn execute(&self, _: &Action, _: &ExecContext) -> Outcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        Outcome::Failed(StepFailure::new(FailureClass::Transient, "NoAzure", "not in this test"))
    }
}

fn memory_ctx() -> (Arc<ServeContext>, Arc<MemoryStore>) {
    let clock = Arc::new(VirtualClock::new());
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let parts = Parts {
        store: store.clone(),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: Arc::new(RecordingSender::default()),
        executor: Arc::new(NoAzure(AtomicUsize::new(0))),
        clock,
    };
    let app = app(parts, Duration::from_secs(5));
    (Arc::new(ServeContext::ready(app)), store)
}

async fn dead_letters(store: &dyn StateStore) -> Vec<DeadLetterRecord> {
    let keys = store.list(DEAD_LETTER_PREFIX, None, 100).await.expect("list");
    let mut records = Vec::new();
    for key in keys {
        let doc = store.get(&key).await.expect("get");
        records.push(serde_json::from_slice(&doc.body).expect("record parses"));
    }
    records
}

#[tokio::test]
async fn every_function_has_a_route() {
    let (ctx, _) = memory_ctx();
    let timer = json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}});
    for function in FUNCTIONS {
        let reply = match function.trigger {
            TriggerKind::Http => {
                warp::test::request()
                    .method("GET")
                    .path("/api/deployments")
                    .reply(&routes(ctx.clone()))
                    .await
            }
            _ => {
                let path = function.envelope_path().expect("envelope path");
                warp::test::request()
                    .method("POST")
                    .path(&path)
                    .body(timer.to_string())
                    .reply(&routes(ctx.clone()))
                    .await
            }
        };
        assert_ne!(reply.status().as_u16(), 404, "{} has no route", function.name);
        let body: Value = serde_json::from_slice(reply.body()).expect("JSON answer");
        assert!(body.is_object(), "{}: {body}", function.name);
    }
}

#[tokio::test]
async fn readiness_probe_and_unknown_paths_answer_json() {
    let (ctx, _) = memory_ctx();
    let ready = warp::test::request().method("GET").path("/").reply(&routes(ctx.clone())).await;
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(serde_json::from_slice::<Value>(ready.body()).unwrap()["status"], "ready");

    let (status, body) = post(&ctx, "/NoSuchFunction", &json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], 404);
}

#[tokio::test]
async fn malformed_envelope_is_acknowledged_and_recorded() {
    let (ctx, store) = memory_ctx();
    let reply = warp::test::request()
        .method("POST")
        .path("/SagaWorker")
        .header("x-azure-functions-invocationid", "inv-1")
        .body("[1, 2, 3]")
        .reply(&routes(ctx.clone()))
        .await;
    assert_eq!(reply.status().as_u16(), 200);
    let body: Value = serde_json::from_slice(reply.body()).expect("JSON");
    assert!(body["Logs"][0].as_str().unwrap().contains("dead-lettered"), "{body}");

    let records = dead_letters(store.as_ref()).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].reason, "MalformedInvocation");
    assert_eq!(records[0].invocation_id.as_deref(), Some("inv-1"));
}

#[tokio::test]
async fn unknown_deployment_is_dead_lettered_once_per_message() {
    let (ctx, store) = memory_ctx();
    let kick = WorkMessage::kick(polaris_core::ids::DeploymentId::new("ghost-00000001").unwrap());
    let body = serde_json::to_vec(&kick).unwrap();

    for delivery in 1..=2 {
        let (status, _) =
            post(&ctx, "/SagaWorker", &sb_envelope(&body, "ghost:kick:0", delivery)).await;
        assert_eq!(status, 200, "never retried for ever");
    }
    let records = dead_letters(store.as_ref()).await;
    assert_eq!(records.len(), 1, "one record per message id");
    assert_eq!(records[0].reason, "UnknownDeployment");
    assert_eq!(records[0].message_id.as_deref(), Some("ghost:kick:0"));
}

#[tokio::test]
async fn dead_letter_records_never_hold_the_body() {
    let (ctx, store) = memory_ctx();
    let secret = json!({"value": "s3cr3t-value", "secret": true});
    let spec = json!({"name": "x", "workload_env_vars": {"K": secret}});
    let deploy = json!({"kind": "deploy", "schema": "polaris.work/v1", "spec": spec});
    let body = serde_json::to_vec(&deploy).unwrap();
    let (status, answer) = post(&ctx, "/SagaWorker", &sb_envelope(&body, "deploy:1", 1)).await;
    assert_eq!(status, 200);
    assert!(!answer.to_string().contains("s3cr3t-value"));

    for key in store.list(DEAD_LETTER_PREFIX, None, 10).await.unwrap() {
        let doc = store.get(&key).await.unwrap();
        assert!(!String::from_utf8_lossy(&doc.body).contains("s3cr3t-value"));
    }
}

/// A store that is down: every call fails as unavailable.
struct DownStore;

#[async_trait]
impl StateStore for DownStore {
    async fn get(&self, key: &str) -> Result<Versioned, StoreError> {
        Err(StoreError::Unavailable { message: format!("down ({key})") })
    }
    async fn put(&self, _: &str, _: Vec<u8>, _: WriteCondition) -> Result<ETag, StoreError> {
        Err(StoreError::Unavailable { message: "down".into() })
    }
    async fn list(&self, _: &str, _: Option<&str>, _: usize) -> Result<Vec<String>, StoreError> {
        Err(StoreError::Unavailable { message: "down".into() })
    }
    async fn delete(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Unavailable { message: "down".into() })
    }
    async fn acquire_lease(&self, _: &str, _: u32) -> Result<Lease, StoreError> {
        Err(StoreError::Unavailable { message: "down".into() })
    }
    async fn release_lease(&self, _: &Lease) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test]
async fn retryable_failure_answers_500_so_the_host_abandons() {
    let clock = Arc::new(VirtualClock::new());
    let parts = Parts {
        store: Arc::new(DownStore),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: Arc::new(RecordingSender::default()),
        executor: Arc::new(NoAzure(AtomicUsize::new(0))),
        clock,
    };
    let ctx = Arc::new(ServeContext::ready(app(parts, Duration::from_secs(5))));
    let kick = WorkMessage::kick(polaris_core::ids::DeploymentId::new("demo-00000001").unwrap());
    let body = serde_json::to_vec(&kick).unwrap();

    let (status, answer) = post(&ctx, "/SagaWorker", &sb_envelope(&body, "demo:kick:0", 1)).await;
    assert_eq!(status, 500);
    assert_eq!(answer["status"], 500);

    let (status, _) = post(&ctx, "/RecoverySweeper", &json!({"Data": {}})).await;
    assert_eq!(status, 500, "a failed sweep is a failed timer run");
}

#[tokio::test]
async fn sweeper_with_nothing_stuck_kicks_nothing() {
    let (ctx, _) = memory_ctx();
    let (status, answer) = post(&ctx, "/RecoverySweeper", &json!({"Data": {}})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["Outputs"]["kicked"], json!([]));
}

#[tokio::test]
async fn forwarded_api_is_served_under_api() {
    let (ctx, store) = memory_ctx();
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/standard.json"));
    let reply = warp::test::request()
        .method("POST")
        .path("/api/deployments?code=function-key")
        .header("content-type", "application/json")
        .body(spec.expect("example"))
        .reply(&routes(ctx.clone()))
        .await;
    assert_eq!(reply.status().as_u16(), 202, "{:?}", String::from_utf8_lossy(reply.body()));
    let keys = store.list("deployments/", None, 10).await.unwrap();
    assert_eq!(keys.len(), 1, "the API stored the deployment");

    let list =
        warp::test::request().method("GET").path("/api/deployments").reply(&routes(ctx)).await;
    assert_eq!(list.status().as_u16(), 200);
    assert!(serde_json::from_slice::<Value>(list.body()).unwrap().is_object());
}

#[tokio::test]
async fn teardown_on_event_handles_an_event_grid_invocation() {
    let (ctx, _) = memory_ctx();
    // The shape of fixtures/functions/requests/eventgrid-eventgridschema.KarlGW-azfunc.
    let event = json!({
        "id": "4e773554-f6b7-4ea2-b07d-4c5fd5aba741",
        "topic": "topic",
        "subject": "subject",
        "eventType": "created",
        "dataVersion": "1",
        "metadataVersion": "1",
        "eventTime": "2023-10-12T20:13:49.640002Z",
        "data": {"id": "4e773554-f6b7-4ea2-b07d-4c5fd5aba741", "name": "test"}
    });
    let envelope = json!({"Data": {"event": event}, "Metadata": {"data": event["data"]}});
    let (status, answer) = post(&ctx, "/TeardownOnEvent", &envelope).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Outputs"]["disposition"]["disposition"], "ignored", "{answer}");
}

#[tokio::test]
async fn rotate_keys_needs_rotation_clients() {
    let (ctx, _) = memory_ctx();
    let timer = json!({"Data": {"timer": {"ScheduleStatus": null, "IsPastDue": false}}});
    let (status, answer) = post(&ctx, "/RotateKeys", &timer).await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("not configured"));
}

#[tokio::test]
async fn warm_up_runs_once_before_first_use_and_a_failure_is_retried() {
    let (ctx, _) = memory_ctx();
    let ctx = Arc::into_inner(ctx).expect("sole owner");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let warmup: polaris::serve::Warmup = Box::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { if n == 0 { Err("container not ready".into()) } else { Ok(()) } })
    });
    let ctx = Arc::new(ctx.with_warmup(warmup));

    let ready = warp::test::request().method("GET").path("/").reply(&routes(ctx.clone())).await;
    assert_eq!(ready.status().as_u16(), 200, "the probe never waits for the warm-up");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let kick = WorkMessage::kick(polaris_core::ids::DeploymentId::new("ghost-00000002").unwrap());
    let body = serde_json::to_vec(&kick).unwrap();
    let envelope = sb_envelope(&body, "ghost2:kick:0", 1);
    let (status, answer) = post(&ctx, "/SagaWorker", &envelope).await;
    assert_eq!(status, 500, "not ready: abandoned for redelivery");
    assert!(answer["detail"].as_str().unwrap().contains("container not ready"));

    let (status, _) = post(&ctx, "/SagaWorker", &sb_envelope(&body, "ghost2:kick:0", 2)).await;
    assert_eq!(status, 200);
    let (status, _) = post(&ctx, "/SagaWorker", &sb_envelope(&body, "ghost2:kick:0", 3)).await;
    assert_eq!(status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "once more after the failure, then never");
}

//! Every Service Bus, timer and Event Grid request fixture in `shared/fixtures/functions/
//! requests/` (beside the repository) replays through `polaris serve`'s routes and gets the
//! documented answer: 2xx, `application/json`, and the `Outputs`/`Logs`/`ReturnValue`
//! envelope. The fixtures' trigger binding names (`queue`, `mySbMsg`) are renamed to ours,
//! as the host would name them from our `function.json`.

mod serve_support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use polaris::clock::VirtualClock;
use polaris::secrets::MemorySecretStore;
use polaris::serve::{DEAD_LETTER_PREFIX, ServeContext, routes};
use polaris::store::MemoryStore;
use polaris_core::ports::StateStore;
use serde_json::Value;
use serve_support::{CountingExecutor, Parts, RecordingSender, app};

fn requests_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/functions/requests"))
}

fn fixture(name: &str) -> Value {
    let path = requests_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is missing: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// Moves the fixture's only `Data` entry to our binding name.
fn rebind(mut envelope: Value, binding: &str) -> Value {
    let data = envelope["Data"].as_object_mut().expect("Data");
    let (_, value) = data.iter().next().map(|(k, v)| (k.clone(), v.clone())).expect("binding");
    data.clear();
    data.insert(binding.to_owned(), value);
    envelope
}

struct Handler {
    ctx: Arc<ServeContext>,
    store: Arc<MemoryStore>,
    executor: Arc<CountingExecutor>,
}

fn handler() -> Handler {
    let clock = Arc::new(VirtualClock::new());
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let executor =
        Arc::new(CountingExecutor { inner: Arc::new(NoAzure), calls: Default::default() });
    let parts = Parts {
        store: store.clone(),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: Arc::new(RecordingSender::default()),
        executor: executor.clone(),
        clock,
    };
    let ctx = Arc::new(ServeContext::ready(app(parts, Duration::from_secs(5))));
    Handler { ctx, store, executor }
}

struct NoAzure;

#[async_trait::async_trait]
impl polaris_core::ports::Executor for NoAzure {
    async fn execute(
        &self,
        _: &polaris_core::action::Action,
        _: &polaris_core::action::ExecContext,
    ) -> polaris_core::action::Outcome {
        panic!("no fixture request may reach Azure")
    }
}

async fn replay(handler: &Handler, path: &str, envelope: &Value) -> Value {
    let reply = warp::test::request()
        .method("POST")
        .path(path)
        .header("x-azure-functions-invocationid", "4e773554-f6b7-4ea2-b07d-4c5fd5aba741")
        .header("content-type", "application/json; charset=utf-8")
        .body(envelope.to_string())
        .reply(&routes(handler.ctx.clone()))
        .await;
    let content_type = reply.headers().get("content-type").and_then(|v| v.to_str().ok());
    assert_eq!(content_type, Some("application/json"), "{path}");
    assert_eq!(reply.status().as_u16(), 200, "{path}: {:?}", reply.body());
    let body: Value = serde_json::from_slice(reply.body()).expect("JSON");
    for key in ["Outputs", "Logs", "ReturnValue"] {
        assert!(body.get(key).is_some(), "{path}: {key} missing in {body}");
    }
    body
}

#[tokio::test]
async fn service_bus_fixtures_are_acknowledged_and_recorded_not_retried() {
    let handler = handler();
    let fixtures = [
        "servicebus-queue.KarlGW-azfunc.request.json",
        "servicebus-queue.json-body.assembled-from-host-code.request.json",
        "servicebus-queue.text-body.assembled-from-host-code.request.json",
    ];
    for name in fixtures {
        let envelope = rebind(fixture(name), "message");
        let body = replay(&handler, "/SagaWorker", &envelope).await;
        // None of them is a polaris work message: acknowledged, with the reason logged.
        let log = body["Logs"][0].as_str().unwrap_or_default();
        assert!(log.contains("dead-lettered (MalformedMessage)"), "{name}: {body}");
    }
    let records = handler.store.list(DEAD_LETTER_PREFIX, None, 10).await.unwrap();
    assert_eq!(records.len(), fixtures.len(), "{records:?}");
    assert_eq!(handler.executor.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn timer_fixtures_run_the_sweeper() {
    let handler = handler();
    for name in ["timer.captured-host-4.24.4.4.request.json", "timer.KarlGW-azfunc.request.json"] {
        let body = replay(&handler, "/RecoverySweeper", &fixture(name)).await;
        assert_eq!(body["Outputs"]["kicked"], serde_json::json!([]), "{name}");
    }
}

#[tokio::test]
async fn event_grid_fixtures_of_both_schemas_are_handled() {
    // Both fixtures carry the same event id; a second delivery of one id is a duplicate,
    // so each gets its own handler.
    for name in [
        "eventgrid-eventgridschema.KarlGW-azfunc.request.json",
        "eventgrid-cloudevent.KarlGW-azfunc.request.json",
    ] {
        let handler = handler();
        let body = replay(&handler, "/TeardownOnEvent", &fixture(name)).await;
        assert_eq!(body["Outputs"]["disposition"]["disposition"], "ignored", "{name}: {body}");
    }
}

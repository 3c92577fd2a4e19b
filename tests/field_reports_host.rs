//! Field reports about the Functions host, Service Bus and the handler (B17, B18, B20,
//! B21), each test named after its case. B23 (Azurite preconditions) is in
//! `store_blob_azurite.rs`, beside the Azurite it needs.

mod serve_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use polaris::clock::VirtualClock;
use polaris::secrets::MemorySecretStore;
use polaris::serve::{DEAD_LETTER_PREFIX, ServeContext, deploy_message, enqueue_spec};
use polaris::store::MemoryStore;
use polaris_core::action::{Action, ExecContext, Outcome};
use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::ports::{Executor, MessageSender, OutboundMessage, SendError, StateStore};
use polaris_core::saga::{DeploymentStatus, Phase, SagaState, WorkItem, WorkMessage};
use polaris_host::{InvocationRequest, ServiceBusTrigger};
use polaris_servicebus::fake::FakeServiceBus;
use serde_json::{Value, json};
use serve_support::{
    CountingExecutor, Host, Mode, Parts, Queued, RecordingSender, app, post, sb_envelope,
    sim_executor, start_sim,
};

fn enhanced_spec() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/enhanced.json"));
    serde_json::from_str(&text.expect("example spec")).expect("example is JSON")
}

async fn state_of(store: &dyn StateStore) -> SagaState {
    let keys = store.list("deployments/", None, 10).await.expect("list");
    assert_eq!(keys.len(), 1, "exactly one deployment: {keys:?}");
    let doc = store.get(&keys[0]).await.expect("state");
    serde_json::from_slice(&doc.body).expect("state parses")
}

async fn no_dead_letters(store: &dyn StateStore) {
    let keys = store.list(DEAD_LETTER_PREFIX, None, 10).await.expect("list");
    assert!(keys.is_empty(), "no message was dead-lettered: {keys:?}");
}

/// B17: the broker redelivers a message while its first invocation still runs. Every
/// message here goes to two handlers at once, through the whole deployment.
#[tokio::test]
async fn b17_concurrent_invocations_one_owner_each_resource_put_once() {
    let clock = Arc::new(VirtualClock::new());
    let sim = start_sim(&clock).await;
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let secrets = Arc::new(MemorySecretStore::new());
    let sender = Arc::new(RecordingSender::default());
    let executor = Arc::new(CountingExecutor {
        inner: sim_executor(&sim, secrets.clone()),
        calls: AtomicUsize::new(0),
    });
    let parts = Parts {
        store: store.clone(),
        secrets,
        sender: sender.clone(),
        executor: executor.clone(),
        clock: clock.clone(),
    };
    let app = app(parts, Duration::from_secs(30));
    let metrics = app.worker.metrics.clone();
    let ctx = Arc::new(ServeContext::ready(app));

    let deploy = deploy_message(&enhanced_spec(), Some("b17")).expect("valid spec");
    sender.send(deploy).await.expect("queued");
    let drain = || sender.drain().into_iter().map(Queued::from_outbound).collect();
    let mut host = Host::new(ctx, clock.clone(), drain);
    host.run(Mode::Racing, 2000).await;

    let state = state_of(store.as_ref()).await;
    assert_eq!(state.status, DeploymentStatus::Succeeded, "{:#?}", state.history);
    no_dead_letters(store.as_ref()).await;

    // Each resource was written once: the twin invocation never acted.
    let mut puts: BTreeMap<String, usize> = BTreeMap::new();
    for request in sim.request_log().iter().filter(|r| r.method == "PUT") {
        *puts.entry(request.path.to_lowercase()).or_default() += 1;
    }
    assert!(!puts.is_empty());
    for (path, count) in &puts {
        assert_eq!(*count, 1, "{path} was PUT {count} times");
    }

    // Only one of each pair did the step; the other found the work done or owned.
    let snapshot = metrics.snapshot();
    assert!(snapshot.stale + snapshot.busy > 0, "the twins met: {snapshot:?}");
    let mut succeeded: BTreeMap<String, usize> = BTreeMap::new();
    for entry in state.history.iter().filter(|e| e.event == "succeeded") {
        let step = entry.step.as_ref().map(|s| s.to_string()).unwrap_or_default();
        *succeeded.entry(step).or_default() += 1;
    }
    assert!(succeeded.values().all(|n| *n == 1), "no duplicate history: {succeeded:?}");
    assert_eq!(succeeded.len(), state.steps.len());
}

fn item(attempt: u32) -> WorkItem {
    WorkItem {
        deployment_id: DeploymentId::new("demo-00000001").unwrap(),
        step: StepName::new("vnet"),
        phase: Phase::Do,
        attempt,
        tick: attempt,
        not_before: None,
    }
}

/// B18: duplicate detection drops a re-sent MessageId; our ids must make that harmless.
#[tokio::test]
async fn b18_dedupe_window_absorbs_resends_but_never_continuations() {
    let fake = FakeServiceBus::start(&["deployments"]).await.expect("fake starts");
    let sender = fake.sender("deployments").expect("sender");

    // The same request sent twice: one delivery.
    let spec = enhanced_spec();
    let first = enqueue_spec(&sender, &spec, None).await.expect("sent");
    let second = enqueue_spec(&sender, &spec, None).await.expect("re-sent");
    assert_eq!(first, second, "the id is derived from the request");
    let delivered = fake.drain("deployments");
    assert_eq!(delivered.len(), 1, "the re-send was absorbed");
    let body: WorkMessage = serde_json::from_slice(&delivered[0].body).expect("work message");
    assert!(matches!(body, WorkMessage::Deploy { idempotency_key: Some(_), .. }));

    // Continuations of attempts 1 and 2: different ids, both delivered.
    for attempt in [1, 2] {
        let item = item(attempt);
        let message = OutboundMessage {
            message_id: item.message_id(),
            body: serde_json::to_vec(&WorkMessage::step(item)).unwrap(),
            scheduled_enqueue_time: None,
            correlation_id: Some("demo-00000001".into()),
        };
        sender.send(message).await.expect("continuation sent");
    }
    let continuations = fake.drain("deployments");
    assert_eq!(continuations.len(), 2, "both attempts delivered");
    assert_ne!(continuations[0].message_id, continuations[1].message_id);

    // An empty MessageId is refused before it reaches the broker.
    let attempts_before = fake.attempts().len();
    let empty = OutboundMessage {
        message_id: String::new(),
        body: b"{}".to_vec(),
        scheduled_enqueue_time: None,
        correlation_id: None,
    };
    assert!(matches!(sender.send(empty).await, Err(SendError::EmptyMessageId)));
    assert_eq!(fake.attempts().len(), attempts_before, "nothing was sent");
}

/// An Azure call that never answers.
struct NeverAnswers(AtomicUsize);

#[async_trait]
impl Executor for NeverAnswers {
    async fn execute(&self, _: &Action, _: &ExecContext) -> Outcome {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

/// B20: the host gives up on a slow handler; an invocation must stay bounded and leave the
/// rest to a scheduled continuation.
#[tokio::test]
async fn b20_hung_arm_call_returns_within_budget_with_step_rescheduled() {
    let clock = Arc::new(VirtualClock::new());
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let sender = Arc::new(RecordingSender::default());
    let executor = Arc::new(NeverAnswers(AtomicUsize::new(0)));
    let parts = Parts {
        store: store.clone(),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: sender.clone(),
        executor: executor.clone(),
        clock: clock.clone(),
    };
    let app = app(parts, Duration::from_millis(200));
    // The invocation budget is far above the action timeout: answering 200 (not the
    // budget's 500) proves the step itself gave up in time.
    let ctx = Arc::new(ServeContext::ready(app).with_invocation_budget(Duration::from_secs(60)));

    let deploy = deploy_message(&enhanced_spec(), Some("b20")).expect("valid");
    sender.send(deploy).await.unwrap();
    let mut step = None;
    for _ in 0..5 {
        let Some(next) = sender.drain().into_iter().next() else { break };
        let body: WorkMessage = serde_json::from_slice(&next.body).unwrap();
        if matches!(body, WorkMessage::Step { .. }) {
            step = Some(next);
            break;
        }
        let (status, _) =
            post(&ctx, "/SagaWorker", &sb_envelope(&next.body, &next.message_id, 1)).await;
        assert_eq!(status, 200);
    }
    let step = step.expect("the deployment started a step");
    let before = state_of(store.as_ref()).await;

    let (status, answer) =
        post(&ctx, "/SagaWorker", &sb_envelope(&step.body, &step.message_id, 1)).await;
    assert_eq!(status, 200, "answered in time: {answer}");
    assert_eq!(executor.0.load(Ordering::SeqCst), 1);

    let after = state_of(store.as_ref()).await;
    assert!(after.revision > before.revision, "the outcome was persisted");
    let last = after.history.last().expect("history");
    assert_eq!(last.event, "retry_scheduled", "{last:?}");
    let next = sender.drain();
    assert_eq!(next.len(), 1, "one continuation");
    assert_ne!(next[0].message_id, step.message_id, "a new id for the new attempt (B18)");
    assert!(next[0].scheduled_enqueue_time.is_some(), "rescheduled, not slept");
    no_dead_letters(store.as_ref()).await;
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    listener.local_addr().unwrap().port()
}

/// One HTTP/1.1 request on loopback; `None` while nothing listens.
fn http(port: u16, request: &str) -> Option<String> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// B20: the host waits a bounded time for the port; we bind first and build clients later.
#[test]
fn b20_serve_binds_its_port_quickly_without_any_azure_setting() {
    let port = free_port();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polaris"))
        .arg("serve")
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("POLARIS_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");

    let probe = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut ready = None;
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(answer) = http(port, probe) {
            ready = Some((started.elapsed(), answer));
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }

    // Without settings an invocation fails, naming the missing setting, as JSON.
    let body = "{\"Data\":{\"message\":\"{}\"},\"Metadata\":{}}";
    let invoke = format!(
        "POST /SagaWorker HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let invocation = http(port, &invoke);
    let _ = child.kill();
    let _ = child.wait();

    let (elapsed, answer) = ready.expect("the handler answered GET /");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(elapsed < Duration::from_secs(2), "ready after {elapsed:?}; the host allows far less");
    let invocation = invocation.expect("the invocation was answered");
    assert!(invocation.starts_with("HTTP/1.1 500"), "{invocation}");
    assert!(invocation.contains("POLARIS_STATE_ACCOUNT_URL"), "{invocation}");
}

fn memory_host() -> (Arc<ServeContext>, Arc<MemoryStore>, Arc<CountingExecutor>) {
    let clock = Arc::new(VirtualClock::new());
    let store = Arc::new(MemoryStore::new(clock.clone()));
    let executor = Arc::new(CountingExecutor {
        inner: Arc::new(NeverAnswers(AtomicUsize::new(0))),
        calls: AtomicUsize::new(0),
    });
    let parts = Parts {
        store: store.clone(),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: Arc::new(RecordingSender::default()),
        executor: executor.clone(),
        clock,
    };
    (Arc::new(ServeContext::ready(app(parts, Duration::from_millis(100)))), store, executor)
}

/// B21: metadata timestamps come in several shapes (cardinality one and many, `Z` and
/// `+00:00`); none may poison a message whose body is fine.
#[tokio::test]
async fn b21_timestamp_shapes_of_both_cardinalities_never_poison_the_message() {
    let (ctx, store, _) = memory_host();
    let body = serde_json::to_vec(&deploy_body("b21-times")).unwrap();
    let shapes = [
        ("2020-12-18T10:00:00", "2020-12-18T10:00:00+00:00"),
        ("12/18/2020 10:00:00 AM", "12/18/2020 10:00:00 AM +00:00"),
        ("2020-12-18T10:00:00.1234567Z", "2020-12-18T10:00:00Z"),
        ("not a time at all", ""),
    ];
    for (i, (utc, offset)) in shapes.iter().enumerate() {
        let mut envelope = sb_envelope(&body, &format!("b21-{i}"), 1);
        envelope["Metadata"]["EnqueuedTimeUtc"] = json!(utc);
        envelope["Metadata"]["ExpiresAtUtc"] = json!(utc);
        envelope["Metadata"]["EnqueuedTime"] = json!(offset);
        // The many-cardinality host sends arrays beside the scalar keys.
        envelope["Metadata"]["EnqueuedTimeUtcArray"] = json!([utc]);
        envelope["Metadata"]["DeliveryCountArray"] = json!(["1"]);

        let request = InvocationRequest::from_value(envelope.clone()).expect("envelope");
        ServiceBusTrigger::from_invocation(&request, "message").expect("deserializes");
        let (status, answer) = post(&ctx, "/SagaWorker", &envelope).await;
        assert_eq!(status, 200, "{utc}: {answer}");
    }
    assert_eq!(state_of(store.as_ref()).await.idempotency_key.as_deref(), Some("b21-times"));
    no_dead_letters(store.as_ref()).await;
}

fn deploy_body(key: &str) -> WorkMessage {
    WorkMessage::Deploy {
        schema: "polaris.work/v1".into(),
        deployment_id: None,
        idempotency_key: Some(key.into()),
        spec: enhanced_spec(),
    }
}

/// B21: a body sent as a JSON string holding JSON means the same as the object.
#[tokio::test]
async fn b21_quoted_json_body_equals_object_body() {
    let (ctx, store, _) = memory_host();
    let body = deploy_body("b21-quoted");
    let text = serde_json::to_string(&body).unwrap();

    // Double-encoded (current hosts), then the object itself (older captures).
    let quoted = sb_envelope(text.as_bytes(), "q-1", 1);
    let mut object = quoted.clone();
    object["Data"]["message"] = serde_json::to_value(&body).unwrap();

    let parse = |envelope: &Value| {
        let request = InvocationRequest::from_value(envelope.clone()).unwrap();
        ServiceBusTrigger::from_invocation(&request, "message").unwrap().body
    };
    assert_eq!(parse(&quoted), parse(&object));

    for envelope in [&quoted, &object] {
        let (status, answer) = post(&ctx, "/SagaWorker", envelope).await;
        assert_eq!(status, 200, "{answer}");
    }
    let state = state_of(store.as_ref()).await;
    assert_eq!(state.idempotency_key.as_deref(), Some("b21-quoted"), "one deployment");
    no_dead_letters(store.as_ref()).await;
}

/// B21: a .NET serializer preamble can never parse; dead-letter it without touching Azure.
#[tokio::test]
async fn b21_preamble_body_is_dead_lettered_unsupported_encoding_with_zero_arm_calls() {
    let (ctx, store, executor) = memory_host();
    let text = serde_json::to_string(&deploy_body("b21-preamble")).unwrap();
    let preamble = format!(
        "@\u{6}string\u{8}3{}\u{9a}\u{5}{text}\u{1}",
        "http://schemas.microsoft.com/2003/10/Serialization/"
    );
    let envelope = json!({
        "Data": {"message": serde_json::to_string(&preamble).unwrap()},
        "Metadata": {"MessageId": "\"pre-1\"", "DeliveryCount": "1"}
    });

    let (status, answer) = post(&ctx, "/SagaWorker", &envelope).await;
    assert_eq!(status, 200, "acknowledged, not retried: {answer}");
    assert_eq!(executor.calls.load(Ordering::SeqCst), 0, "no ARM call");
    let keys = store.list(DEAD_LETTER_PREFIX, None, 10).await.unwrap();
    assert_eq!(keys.len(), 1);
    let record: Value = serde_json::from_slice(&store.get(&keys[0]).await.unwrap().body).unwrap();
    assert_eq!(record["reason"], "UnsupportedEncoding");
    assert!(store.list("deployments/", None, 10).await.unwrap().is_empty());
}

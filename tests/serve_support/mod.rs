//! Test support for the custom handler: a harness that plays the Functions host.
//!
//! It posts Service Bus trigger envelopes built like the host's (body JSON-encoded twice,
//! `DeliveryCount` as a string, quoted `MessageId`, body properties copied into Metadata)
//! to the real `polaris serve` routes, takes the messages our sender sent, holds scheduled
//! ones until their time on a virtual clock, and redelivers on non-2xx with the delivery
//! count raised, as PeekLock + abandon does.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use polaris::app::App;
use polaris::clock::{Clock, VirtualClock};
use polaris::runtime::{AzureSettings, SimClockAdapter, build_azure_executor};
use polaris::serve::{ServeContext, routes};
use polaris::worker::{Worker, WorkerMetrics};
use polaris_azure::{CredentialConfig, RetryPolicy};
use polaris_core::action::{Action, ExecContext, Outcome};
use polaris_core::ports::{
    Executor, MessageSender, OutboundMessage, SecretStore, SendError, StateStore,
};
use polaris_core::saga::SagaConfig;
use polaris_sim::{SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};
use time::OffsetDateTime;

/// A message on the harness' queue.
#[derive(Clone, Debug)]
pub struct Queued {
    pub message_id: String,
    pub body: Vec<u8>,
    pub not_before: Option<OffsetDateTime>,
    pub delivery_count: u32,
}

impl Queued {
    pub fn from_outbound(m: OutboundMessage) -> Self {
        Self {
            message_id: m.message_id,
            body: m.body,
            not_before: m.scheduled_enqueue_time,
            delivery_count: 1,
        }
    }
}

/// The envelope the host POSTs to `/SagaWorker` for `message`.
pub fn sb_envelope(body: &[u8], message_id: &str, delivery_count: u32) -> Value {
    let text = String::from_utf8_lossy(body).into_owned();
    let quoted = |s: &str| Value::String(serde_json::to_string(s).expect("string"));
    let mut metadata = json!({
        "MessageActions": {},
        "Client": {"FullyQualifiedNamespace": "polaris-test.servicebus.windows.net"},
        "DeliveryCount": delivery_count.to_string(),
        "LockToken": quoted("6c9e1a8e-3f0b-4b4f-9d0e-2f6a1c7d5e44"),
        "EnqueuedTimeUtc": "2024-11-06T10:15:30",
        "EnqueuedTime": "2024-11-06T10:15:30+00:00",
        "ExpiresAtUtc": "2024-11-20T10:15:30",
        "MessageId": quoted(message_id),
        "ContentType": quoted("application/json"),
        "sys": {"MethodName": "SagaWorker", "UtcNow": "2024-11-06T10:15:31.1234567Z"},
    });
    // The host copies each top-level non-array body property into Metadata, stringified
    // and quoted, overwriting same-named keys.
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) {
        let meta = metadata.as_object_mut().expect("object");
        for (key, value) in fields {
            let text = match value {
                Value::Array(_) => continue,
                Value::String(s) => s,
                other => other.to_string(),
            };
            meta.insert(key, quoted(&text));
        }
    }
    json!({"Data": {"message": quoted(&text)}, "Metadata": metadata})
}

/// Posts one envelope to a route and returns the status and the JSON body.
pub async fn post(ctx: &Arc<ServeContext>, path: &str, body: &Value) -> (u16, Value) {
    let reply = warp::test::request()
        .method("POST")
        .path(path)
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string())
        .reply(&routes(ctx.clone()))
        .await;
    let json: Value = serde_json::from_slice(reply.body()).unwrap_or_else(|e| {
        panic!("answer to {path} is not JSON ({e}): {:?}", String::from_utf8_lossy(reply.body()))
    });
    assert!(json.is_object(), "every answer is a JSON object: {json}");
    (reply.status().as_u16(), json)
}

/// A sender that keeps what it was given.
#[derive(Default)]
pub struct RecordingSender {
    pub sent: Mutex<Vec<OutboundMessage>>,
}

impl RecordingSender {
    pub fn drain(&self) -> Vec<OutboundMessage> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl MessageSender for RecordingSender {
    async fn send(&self, message: OutboundMessage) -> Result<(), SendError> {
        if message.message_id.trim().is_empty() {
            return Err(SendError::EmptyMessageId);
        }
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).push(message);
        Ok(())
    }
}

/// Counts the actions an executor is asked to perform.
pub struct CountingExecutor {
    pub inner: Arc<dyn Executor>,
    pub calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl Executor for CountingExecutor {
    async fn execute(&self, action: &Action, ctx: &ExecContext) -> Outcome {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.execute(action, ctx).await
    }
}

/// The simulated Azure on the harness' virtual clock.
pub async fn start_sim(clock: &Arc<VirtualClock>) -> SimHandle {
    let clock: Arc<dyn Clock> = clock.clone();
    Simulator::start(SimConfig { clock: Arc::new(SimClockAdapter(clock)), ..SimConfig::default() })
        .await
        .expect("simulator starts")
}

/// The executor against `sim`, with in-invocation retries off: every wait is a scheduled
/// continuation on the virtual clock.
pub fn sim_executor(sim: &SimHandle, secrets: Arc<dyn SecretStore>) -> Arc<dyn Executor> {
    let settings = AzureSettings {
        arm_endpoint: sim.arm_endpoint(),
        keyvault_base: Some(sim.arm_endpoint()),
        root_ca_pem: Some(sim.ca_certificate_pem()),
        credential: CredentialConfig::Local,
        retry: RetryPolicy { max_attempts: 1, ..RetryPolicy::default() },
    };
    Arc::new(build_azure_executor(&settings, secrets).expect("executor builds"))
}

pub struct Parts {
    pub store: Arc<dyn StateStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub sender: Arc<dyn MessageSender>,
    pub executor: Arc<dyn Executor>,
    pub clock: Arc<VirtualClock>,
}

/// The app the handler serves, from its parts.
pub fn app(parts: Parts, action_timeout: Duration) -> Arc<App> {
    let worker = Arc::new(Worker {
        store: parts.store,
        secrets: parts.secrets,
        sender: parts.sender,
        executor: parts.executor,
        clock: parts.clock,
        saga: SagaConfig { default_poll_secs: 1, ..SagaConfig::default() },
        lease_secs: 30,
        action_timeout,
        metrics: Arc::new(WorkerMetrics::default()),
        crash: None,
    });
    Arc::new(App::new(worker, "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned()))
}

/// How the harness delivers each message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Once,
    /// Every message is delivered twice, one after the other.
    Twice,
    /// Every message goes to two handlers at the same time (the twin handler, a second
    /// process with its own clients, when one is set).
    Racing,
}

/// The host, played: a queue fed from `drain`, delivered to `/SagaWorker`.
pub struct Host<D: Fn() -> Vec<Queued>> {
    pub ctx: Arc<ServeContext>,
    /// A second handler process for [`Mode::Racing`].
    pub twin: Option<Arc<ServeContext>>,
    pub clock: Arc<VirtualClock>,
    pub drain: D,
    pub queue: Vec<Queued>,
    pub invocations: usize,
    pub redeliveries: usize,
    /// Message ids already enqueued: duplicate detection, as the deployments queue has.
    pub seen: std::collections::HashSet<String>,
}

impl<D: Fn() -> Vec<Queued>> Host<D> {
    pub fn new(ctx: Arc<ServeContext>, clock: Arc<VirtualClock>, drain: D) -> Self {
        Self {
            ctx,
            twin: None,
            clock,
            drain,
            queue: Vec::new(),
            invocations: 0,
            redeliveries: 0,
            seen: Default::default(),
        }
    }

    /// Delivers messages until the queue is empty or `max` invocations were made.
    pub async fn run(&mut self, mode: Mode, max: usize) {
        while self.invocations < max {
            for message in (self.drain)() {
                if self.seen.insert(message.message_id.clone()) {
                    self.queue.push(message);
                }
            }
            let Some(next) = self.take_due() else { break };
            let envelope = sb_envelope(&next.body, &next.message_id, next.delivery_count);

            let statuses = match mode {
                Mode::Once => vec![self.invoke(&envelope).await],
                Mode::Twice => vec![self.invoke(&envelope).await, self.invoke(&envelope).await],
                Mode::Racing => {
                    let twin = self.twin.clone().unwrap_or_else(|| self.ctx.clone());
                    let (a, b) = tokio::join!(self.invoke(&envelope), invoke_on(&twin, &envelope));
                    vec![a, b]
                }
            };
            self.invocations += statuses.len();
            if statuses.iter().all(|s| !(200..300).contains(s)) {
                assert!(next.delivery_count < 10, "message {} never succeeded", next.message_id);
                self.redeliveries += 1;
                self.queue.push(Queued { delivery_count: next.delivery_count + 1, ..next });
            }
        }
    }

    async fn invoke(&self, envelope: &Value) -> u16 {
        invoke_on(&self.ctx, envelope).await
    }

    /// The earliest due message; jumps the clock to the next one when none is due.
    fn take_due(&mut self) -> Option<Queued> {
        if self.queue.is_empty() {
            return None;
        }
        let now = self.clock.now();
        let due = |q: &Queued| q.not_before.is_none_or(|t| t <= now);
        let index = match self.queue.iter().position(due) {
            Some(i) => i,
            None => {
                let (i, at) = self
                    .queue
                    .iter()
                    .enumerate()
                    .filter_map(|(i, q)| q.not_before.map(|t| (i, t)))
                    .min_by_key(|(_, t)| *t)?;
                self.clock.advance_to(at);
                i
            }
        };
        Some(self.queue.remove(index))
    }
}

/// One SagaWorker invocation; a healthy run never dead-letters.
async fn invoke_on(ctx: &Arc<ServeContext>, envelope: &Value) -> u16 {
    let (status, body) = post(ctx, "/SagaWorker", envelope).await;
    if status == 200 {
        let logs = body["Logs"].as_array().into_iter().flatten();
        let dead = logs.filter_map(Value::as_str).any(|l| l.contains("dead-lettered"));
        assert!(!dead, "no message of a healthy run is dead-lettered: {body}");
    }
    status
}

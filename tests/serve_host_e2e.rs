//! The walking skeleton's end-to-end deployment, driven through `polaris serve` by a harness
//! that plays the Functions host: Service Bus trigger envelopes built like the host's, the
//! messages our Service Bus sender sends (to the contract-enforcing fake broker, duplicate
//! detection on), scheduled continuations held until their time on a virtual clock,
//! redelivery on non-2xx, and state in Azurite through `BlobStateStore`.

mod serve_support;

use polaris_blobstore::testing as support_azurite;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use polaris::clock::VirtualClock;
use polaris::secrets::MemorySecretStore;
use polaris::serve::{DEAD_LETTER_PREFIX, ServeContext, enqueue_spec};
use polaris_core::ports::StateStore;
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_servicebus::fake::FakeServiceBus;
use serve_support::{Host, Mode, Parts, Queued, app, sim_executor, start_sim};

const QUEUE: &str = "deployments";

/// What a run leaves behind, to compare runs.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: DeploymentStatus,
    steps: BTreeMap<String, String>,
    outputs: serde_json::Value,
    resources: BTreeSet<String>,
}

/// The parts of one run: simulated Azure, fake broker, Azurite container, handler.
struct Rig {
    clock: Arc<VirtualClock>,
    sim: polaris_sim::SimHandle,
    fake: FakeServiceBus,
    store: Arc<polaris_blobstore::BlobStateStore>,
    ctx: Arc<ServeContext>,
    /// A second handler process: its own Blob client (and lease book), executor and
    /// sender, sharing the container, the vault (here in memory) and the broker.
    twin: Arc<ServeContext>,
}

impl Rig {
    /// Messages the handler sent, as the host would receive them.
    fn drain(&self) -> Vec<Queued> {
        let received = self.fake.drain(QUEUE);
        let queued = received.into_iter().map(|m| Queued {
            message_id: m.message_id,
            body: m.body,
            not_before: m.scheduled_enqueue_time,
            delivery_count: 1,
        });
        queued.collect()
    }

    async fn state(&self) -> SagaState {
        let keys = self.store.list("deployments/", None, 10).await.expect("list");
        assert_eq!(keys.len(), 1, "one deployment: {keys:?}");
        serde_json::from_slice(&self.store.get(&keys[0]).await.expect("state").body).unwrap()
    }
}

async fn rig() -> Rig {
    let clock = Arc::new(VirtualClock::new());
    let sim = start_sim(&clock).await;
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake Service Bus");
    let store = Arc::new(support_azurite::store("e2e").await);
    let secrets = Arc::new(MemorySecretStore::new());
    let parts = Parts {
        store: store.clone(),
        secrets: secrets.clone(),
        sender: Arc::new(fake.sender(QUEUE).expect("sender")),
        executor: sim_executor(&sim, secrets.clone()),
        clock: clock.clone(),
    };
    let rotation = polaris::rotation::Rotation::for_simulator(&sim).expect("rotation clients");
    let ctx = ServeContext::ready(app(parts, Duration::from_secs(30))).with_rotation(rotation);
    let ctx = Arc::new(ctx);

    let container = store.container_url().path_segments().and_then(|mut s| s.next_back());
    let twin_store = support_azurite::store_on(container.expect("container name")).await;
    let twin = Parts {
        store: Arc::new(twin_store),
        secrets: secrets.clone(),
        sender: Arc::new(fake.sender(QUEUE).expect("sender")),
        executor: sim_executor(&sim, secrets),
        clock: clock.clone(),
    };
    let twin = Arc::new(ServeContext::ready(app(twin, Duration::from_secs(30))));
    let rig = Rig { clock, sim, fake, store, ctx, twin };

    // What `polaris enqueue` does, through the same sender.
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/enhanced.json"));
    let spec: serde_json::Value = serde_json::from_str(&spec.unwrap()).unwrap();
    let sender = rig.fake.sender(QUEUE).expect("client sender");
    enqueue_spec(&sender, &spec, Some("e2e")).await.expect("enqueued");
    rig
}

async fn run(mode: Mode) -> Outcome {
    let rig = rig().await;
    let mut host = Host::new(rig.ctx.clone(), rig.clock.clone(), || rig.drain());
    host.twin = Some(rig.twin.clone());
    host.run(mode, 3000).await;
    finish(&rig, &host, mode).await
}

async fn finish<D: Fn() -> Vec<Queued>>(rig: &Rig, host: &Host<D>, mode: Mode) -> Outcome {
    let (store, sim) = (&rig.store, &rig.sim);
    let state = rig.state().await;
    assert!(host.invocations > state.steps.len(), "{mode:?}: one invocation per step at least");
    assert_eq!(state.status, DeploymentStatus::Succeeded, "{mode:?}: {:#?}", state.history);
    let dead = store.list(DEAD_LETTER_PREFIX, None, 10).await.expect("list");
    assert!(dead.is_empty(), "{mode:?}: dead letters {dead:?}");
    assert!(host.queue.is_empty(), "{mode:?}: the run drained the queue");

    // Each resource was written once, whoever delivered the message how often.
    let mut puts: BTreeMap<String, usize> = BTreeMap::new();
    for request in sim.request_log().iter().filter(|r| r.method == "PUT") {
        *puts.entry(request.path.to_lowercase()).or_default() += 1;
    }
    let repeated: Vec<_> = puts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "{mode:?}: resources PUT more than once: {repeated:?}");

    let mut resources = BTreeSet::new();
    for resource in sim.inventory() {
        let id = resource.id.to_lowercase();
        assert!(resources.insert(id.clone()), "{mode:?}: {id} exists twice");
    }
    Outcome {
        status: state.status,
        steps: state
            .steps
            .iter()
            .map(|(name, st)| (name.to_string(), format!("{:?}", st.status)))
            .collect(),
        outputs: comparable(serde_json::to_value(&state.outputs).unwrap()),
        resources,
    }
}

/// Outputs without the container group's address, which the simulator draws from the
/// loopback addresses free at the time.
fn comparable(mut outputs: serde_json::Value) -> serde_json::Value {
    if let Some(map) = outputs.as_object_mut() {
        let ip = map.remove("container_group_ip");
        assert!(ip.is_some_and(|ip| ip.as_str().is_some_and(|s| !s.is_empty())), "an address");
    }
    outputs
}

#[tokio::test]
async fn enhanced_example_succeeds_through_serve_with_state_in_azurite() {
    let rig = rig().await;
    let mut host = Host::new(rig.ctx.clone(), rig.clock.clone(), || rig.drain());
    host.run(Mode::Once, 3000).await;
    let outcome = finish(&rig, &host, Mode::Once).await;
    assert!(!outcome.resources.is_empty());
    assert!(outcome.steps.values().all(|s| s == "Succeeded"), "{:?}", outcome.steps);

    // The timer function rotates through the same handler; a fresh key is not due.
    let timer = serde_json::json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}});
    let (status, answer) = serve_support::post(&rig.ctx, "/RotateKeys", &timer).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["Outputs"]["report"]["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), 1, "{answer}");

    // The forwarded API rotates on request: the handler mounts it with the rotation clients.
    let id = rig.state().await.deployment_id.to_string();
    let path = format!("/api/deployments/{id}/rotate-key");
    let (status, answer) = serve_support::post(&rig.ctx, &path, &serde_json::json!({})).await;
    assert_eq!(status, 200, "rotate-key through serve: {answer}");

    // A teardown event through TeardownOnEvent, then the teardown saga through SagaWorker.
    let id = rig.state().await.deployment_id.to_string();
    let event = serde_json::json!({
        "id": "e-1",
        "eventType": "Polaris.Deployments.TeardownRequested",
        "subject": "deployments",
        "eventTime": "2026-12-04T16:00:00Z",
        "dataVersion": "1",
        "metadataVersion": "1",
        "data": {"deploymentId": id},
    });
    let envelope = serde_json::json!({"Data": {"event": event}, "Metadata": {}});
    let (status, answer) = serve_support::post(&rig.ctx, "/TeardownOnEvent", &envelope).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Outputs"]["disposition"]["disposition"], "teardown_requested");
    host.run(Mode::Once, 3000).await;
    assert_eq!(rig.state().await.status, DeploymentStatus::TornDown);
}

#[tokio::test]
async fn every_message_twice_or_raced_ends_in_the_same_state_without_duplicates() {
    let once = run(Mode::Once).await;
    let twice = run(Mode::Twice).await;
    assert_eq!(once, twice, "duplicate deliveries change nothing");
    let raced = run(Mode::Racing).await;
    assert_eq!(once, raced, "racing handlers change nothing");
}

/// The broker accepts the kick and then loses it (a lost message): nothing in the saga will
/// send it again. The sweeper finds the deployment stalled and re-kicks it, and the run
/// completes; sweeping again is harmless.
#[tokio::test]
async fn lost_kick_is_recovered_by_the_sweeper() {
    let rig = rig().await;
    let lose_kicks = || {
        let kept = rig.drain().into_iter().filter(|q| !q.message_id.contains(":kick:"));
        kept.collect::<Vec<_>>()
    };
    let mut host = Host::new(rig.ctx.clone(), rig.clock.clone(), lose_kicks);
    host.run(Mode::Once, 50).await;
    assert_eq!(rig.state().await.status, DeploymentStatus::Accepted, "stalled");

    let sweep = serde_json::json!({"Data": {"timer": {"IsPastDue": false}}, "Metadata": {}});
    let (status, answer) = serve_support::post(&rig.ctx, "/RecoverySweeper", &sweep).await;
    assert_eq!(status, 200);
    assert_eq!(answer["Outputs"]["kicked"], serde_json::json!([]), "not stalled long enough");

    rig.clock.advance(rig.ctx.sweeper.stall_after + Duration::from_secs(1));
    let (status, answer) = serve_support::post(&rig.ctx, "/RecoverySweeper", &sweep).await;
    assert_eq!(status, 200);
    assert_eq!(answer["Outputs"]["kicked"].as_array().map(Vec::len), Some(1), "{answer}");

    host.run(Mode::Once, 3000).await;
    let outcome = finish(&rig, &host, Mode::Once).await;
    assert_eq!(outcome.status, DeploymentStatus::Succeeded);

    rig.clock.advance(rig.ctx.sweeper.stall_after * 2);
    let (_, answer) = serve_support::post(&rig.ctx, "/RecoverySweeper", &sweep).await;
    assert_eq!(answer["Outputs"]["kicked"], serde_json::json!([]), "terminal: left alone");
}

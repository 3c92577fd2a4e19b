//! The recovery sweeper: stalled deployments are re-kicked once per sweep slot, scheduled
//! continuations count as activity, terminal and healthy deployments are left alone, and
//! the embedded runtime's loop does the same on its own.

mod serve_support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use polaris::app::App;
use polaris::clock::{Clock, VirtualClock};
use polaris::secrets::MemorySecretStore;
use polaris::store::MemoryStore;
use polaris::sweeper::{SweeperConfig, spawn_loop, sweep};
use polaris_core::action::{Action, ExecContext, FailureClass, Outcome, StepFailure};
use polaris_core::ports::{Executor, OutboundMessage};
use polaris_core::saga::{DeploymentStatus, WorkMessage};
use serve_support::{Parts, RecordingSender, app};

/// Every Azure call is throttled, so every step waits on a scheduled retry.
struct Throttled;

#[async_trait]
impl Executor for Throttled {
    async fn execute(&self, _: &Action, _: &ExecContext) -> Outcome {
        let mut failure = StepFailure::new(FailureClass::Transient, "TooManyRequests", "429");
        failure.retry_after_secs = Some(30);
        Outcome::Failed(failure)
    }
}

fn setup() -> (Arc<App>, Arc<RecordingSender>, Arc<VirtualClock>) {
    let clock = Arc::new(VirtualClock::new());
    let sender = Arc::new(RecordingSender::default());
    let parts = Parts {
        store: Arc::new(MemoryStore::new(clock.clone())),
        secrets: Arc::new(MemorySecretStore::new()),
        sender: sender.clone(),
        executor: Arc::new(Throttled),
        clock: clock.clone(),
    };
    (app(parts, Duration::from_secs(5)), sender, clock)
}

fn spec() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/standard.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn kicks(sent: &[OutboundMessage]) -> Vec<&OutboundMessage> {
    let is_kick = |m: &&OutboundMessage| {
        matches!(serde_json::from_slice(&m.body), Ok(WorkMessage::Kick { .. }))
    };
    sent.iter().filter(is_kick).collect()
}

#[tokio::test]
async fn lost_kick_is_re_sent_once_per_slot_after_the_stall_threshold() {
    let (app, sender, clock) = setup();
    let config = SweeperConfig::default();
    let state = app.deployments.submit(&spec(), Some("sweep")).await.unwrap();
    sender.drain(); // the first kick is lost

    let report = sweep(&app.worker, &config).await.unwrap();
    assert_eq!(report.scanned, 1);
    assert!(report.kicked.is_empty(), "not stalled yet");

    clock.advance(config.stall_after + Duration::from_secs(1));
    let first = sweep(&app.worker, &config).await.unwrap();
    assert_eq!(first.kicked, vec![state.deployment_id.clone()]);
    let second = sweep(&app.worker, &config).await.unwrap();
    assert_eq!(second.kicked.len(), 1, "still stalled: kicked again");

    let sent = sender.drain();
    let kicks = kicks(&sent);
    assert_eq!(kicks.len(), 2);
    assert_eq!(kicks[0].message_id, kicks[1].message_id, "one id per slot: the broker dedupes");
    assert!(kicks[0].message_id.contains(":sweep:"), "{}", kicks[0].message_id);

    // Delivering the kick starts the deployment; it is no longer stalled.
    let body = &kicks[0].body;
    let disposition = app.handle_message(body, 1).await;
    assert_eq!(disposition, polaris::worker::Disposition::Complete);
    let after = sweep(&app.worker, &config).await.unwrap();
    assert!(after.kicked.is_empty(), "{after:?}");
}

#[tokio::test]
async fn a_scheduled_continuation_counts_as_activity_until_it_is_due() {
    let (app, sender, clock) = setup();
    let config = SweeperConfig::default();
    app.deployments.submit(&spec(), Some("sched")).await.unwrap();

    // Start, then run the first step(s): each is throttled and scheduled 30 s later.
    for _ in 0..3 {
        for message in sender.drain() {
            if message.scheduled_enqueue_time.is_none() {
                app.handle_message(&message.body, 1).await;
            }
        }
    }
    let id = app.deployments.list(None, None, 10).await.unwrap().items[0].deployment_id.clone();
    let state = app.deployments.get(&id).await.unwrap();
    assert_eq!(state.status, DeploymentStatus::Running);
    let due = state.steps.values().filter_map(|s| s.not_before).max().expect("a retry is due");
    assert!(due > clock.now());

    let quiet_since_update = state.updated_at + config.stall_after + Duration::from_secs(1);
    assert!(quiet_since_update < due + config.stall_after, "the retry is due after the update");
    clock.advance_to(quiet_since_update);
    assert!(sweep(&app.worker, &config).await.unwrap().kicked.is_empty(), "a retry is pending");
    clock.advance_to(due + config.stall_after + Duration::from_secs(1));
    assert_eq!(sweep(&app.worker, &config).await.unwrap().kicked, vec![id]);
}

#[tokio::test]
async fn the_runtime_loop_sweeps_on_its_own() {
    let (app, sender, clock) = setup();
    let config = SweeperConfig { stall_after: Duration::from_secs(60) };
    app.deployments.submit(&spec(), Some("loop")).await.unwrap();
    sender.drain();
    clock.advance(Duration::from_secs(61));

    let task = spawn_loop(app.worker.clone(), config, Duration::from_millis(10));
    let mut sent = Vec::new();
    for _ in 0..500 {
        sent.extend(sender.drain());
        if !kicks(&sent).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    assert!(!kicks(&sent).is_empty(), "the loop re-kicked the stalled deployment");
}

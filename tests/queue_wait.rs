//! `recv_wait` for real-time use: wakes on a send and on a scheduled time.

use std::sync::Arc;
use std::time::Duration;

use polaris::clock::{Clock, SystemClock};
use polaris::queue::EmbeddedQueue;
use polaris_core::ports::{MessageSender, OutboundMessage};

const LOCK: Duration = Duration::from_secs(30);

/// Only turns a hang into a failure; no test asserts on how long anything takes.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn message(id: &str) -> OutboundMessage {
    OutboundMessage {
        message_id: id.to_owned(),
        body: b"{}".to_vec(),
        scheduled_enqueue_time: None,
        correlation_id: None,
    }
}

fn real_time_queue() -> Arc<EmbeddedQueue> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Arc::new(EmbeddedQueue::new(clock))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_receiver_gets_a_message_sent_after_it_started_waiting() {
    let queue = real_time_queue();
    let receiver = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.recv_wait(LOCK).await })
    };
    tokio::task::yield_now().await;

    queue.send(message("late-arrival")).await.expect("send");

    let delivery = tokio::time::timeout(HANG_GUARD, receiver).await.expect("woke up");
    let delivery = delivery.expect("receiver task");
    assert_eq!(delivery.message_id, "late-arrival");
    assert_eq!(delivery.delivery_count, 1);
}

#[tokio::test]
async fn waiting_receiver_gets_a_scheduled_message_no_sooner_than_its_time() {
    let queue = real_time_queue();
    let due = SystemClock.now() + Duration::from_millis(50);
    let scheduled = OutboundMessage { scheduled_enqueue_time: Some(due), ..message("later") };
    queue.send(scheduled).await.expect("send");

    let delivery = tokio::time::timeout(HANG_GUARD, queue.recv_wait(LOCK)).await;

    let delivery = delivery.expect("woke up at the scheduled time");
    assert_eq!(delivery.message_id, "later");
    assert!(SystemClock.now() >= due, "delivered before its scheduled time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_waiting_receivers_each_get_a_different_message() {
    let queue = real_time_queue();
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.recv_wait(LOCK).await })
        })
        .collect();
    tokio::task::yield_now().await;

    for id in ["a", "b", "c"] {
        queue.send(message(id)).await.expect("send");
    }

    let mut ids = Vec::new();
    for receiver in receivers {
        let delivery = tokio::time::timeout(HANG_GUARD, receiver).await.expect("woke up");
        ids.push(delivery.expect("receiver task").message_id);
    }
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(queue.in_flight(), 3);
}

//! Sending: id rules, duplicate detection (B18) and scheduled delivery, in virtual time.

use std::sync::Arc;
use std::time::Duration;

use polaris::clock::{Clock, VirtualClock};
use polaris::queue::{EmbeddedQueue, QueueConfig, SendOutcome};
use polaris_core::ports::{MessageSender, OutboundMessage, SendError};
use time::OffsetDateTime;

const LOCK: Duration = Duration::from_secs(30);

fn message(id: &str) -> OutboundMessage {
    OutboundMessage {
        message_id: id.to_owned(),
        body: b"{}".to_vec(),
        scheduled_enqueue_time: None,
        correlation_id: None,
    }
}

fn scheduled(id: &str, at: OffsetDateTime) -> OutboundMessage {
    OutboundMessage { scheduled_enqueue_time: Some(at), ..message(id) }
}

fn queue() -> (Arc<VirtualClock>, EmbeddedQueue) {
    let clock = Arc::new(VirtualClock::new());
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    (clock, EmbeddedQueue::new(dyn_clock))
}

/// Receives and completes everything due now; returns the ids in delivery order.
fn drain(queue: &EmbeddedQueue) -> Vec<String> {
    std::iter::from_fn(|| queue.try_receive(LOCK))
        .map(|delivery| {
            queue.complete(delivery.lock_token).expect("complete");
            delivery.message_id
        })
        .collect()
}

#[tokio::test]
async fn empty_and_default_message_ids_are_refused() {
    let (_clock, queue) = queue();

    for id in ["", "   ", "00000000-0000-0000-0000-000000000000"] {
        let sent = queue.send(message(id)).await;
        assert!(matches!(sent, Err(SendError::EmptyMessageId)), "{id:?} gave {sent:?}");
    }
    let too_long = queue.send(message(&"x".repeat(129))).await;
    assert!(matches!(too_long, Err(SendError::Rejected { .. })), "{too_long:?}");
    assert_eq!(queue.stats().sent, 0);
    assert!(queue.is_idle());
}

#[tokio::test]
async fn same_request_sent_twice_in_the_window_is_delivered_once() {
    let (_clock, queue) = queue();

    queue.send(message("deploy-123")).await.expect("first send");
    queue.send(message("deploy-123")).await.expect("a duplicate send still succeeds");

    assert_eq!(drain(&queue), ["deploy-123"]);
    assert_eq!(queue.stats().duplicates_dropped, 1);
}

#[test]
fn resend_after_consumption_is_still_dropped_within_the_window() {
    let (clock, queue) = queue();
    queue.enqueue(message("deploy-123")).expect("send");
    assert_eq!(drain(&queue), ["deploy-123"]);

    clock.advance(Duration::from_secs(9 * 60));
    let outcome = queue.enqueue(message("deploy-123")).expect("send");

    assert_eq!(outcome, SendOutcome::DuplicateDropped, "the window counts from the first send");
    assert!(drain(&queue).is_empty());
}

#[test]
fn same_id_after_the_window_is_accepted() {
    let (clock, queue) = queue();
    queue.enqueue(message("deploy-123")).expect("send");
    assert_eq!(drain(&queue), ["deploy-123"]);

    clock.advance(Duration::from_secs(10 * 60));
    let outcome = queue.enqueue(message("deploy-123")).expect("send");

    assert!(matches!(outcome, SendOutcome::Enqueued { .. }), "{outcome:?}");
    assert_eq!(drain(&queue), ["deploy-123"]);
}

#[test]
fn continuations_for_attempts_one_and_two_are_both_delivered() {
    let (clock, queue) = queue();
    let attempt_1 = "demo-00000001:vnet:do:1:5";
    let attempt_2 = "demo-00000001:vnet:do:2:5";

    queue.enqueue(message(attempt_1)).expect("attempt 1");
    assert_eq!(drain(&queue), [attempt_1]);
    clock.advance(Duration::from_secs(17));
    queue.enqueue(message(attempt_2)).expect("attempt 2");

    assert_eq!(drain(&queue), [attempt_2], "a unique continuation id survives dedup (B18)");
    assert_eq!(queue.stats().duplicates_dropped, 0);
}

#[test]
fn duplicate_detection_can_be_turned_off() {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let config = QueueConfig { duplicate_detection_window: None, ..QueueConfig::default() };
    let queue = EmbeddedQueue::with_config(clock, config);

    queue.enqueue(message("same")).expect("send");
    queue.enqueue(message("same")).expect("send");

    assert_eq!(drain(&queue), ["same", "same"]);
}

#[test]
fn scheduled_message_is_not_delivered_before_its_time() {
    let (clock, queue) = queue();
    let sent_at = clock.now();
    let due = sent_at + Duration::from_secs(17);
    queue.enqueue(scheduled("retry", due)).expect("send");

    assert!(queue.try_receive(LOCK).is_none(), "not at send time");
    assert_eq!(queue.next_due_time(), Some(due));
    clock.advance(Duration::from_millis(16_999));
    assert!(queue.try_receive(LOCK).is_none(), "not 1 ms early");

    clock.advance_to(due);
    let delivery = queue.try_receive(LOCK).expect("due now");

    assert_eq!(delivery.message_id, "retry");
    assert_eq!(delivery.enqueued_time, due, "enqueued when it became active");
    assert!(clock.now() - sent_at >= Duration::from_secs(17), "no sooner than 17 s");
}

#[test]
fn scheduled_time_in_the_past_means_now_and_keeps_send_order() {
    let (clock, queue) = queue();
    clock.advance(Duration::from_secs(60));
    queue.enqueue(message("first")).expect("send");

    queue.enqueue(scheduled("late", clock.now() - Duration::from_secs(30))).expect("send");

    assert_eq!(drain(&queue), ["first", "late"]);
}

#[test]
fn due_messages_come_out_in_due_time_order() {
    let (clock, queue) = queue();
    let start = clock.now();
    queue.enqueue(scheduled("at-20s", start + Duration::from_secs(20))).expect("send");
    queue.enqueue(scheduled("at-5s", start + Duration::from_secs(5))).expect("send");
    queue.enqueue(message("now")).expect("send");

    clock.advance(Duration::from_secs(30));

    assert_eq!(drain(&queue), ["now", "at-5s", "at-20s"]);
}

#[test]
fn discrete_event_driver_jumps_straight_to_each_due_message() {
    let (clock, queue) = queue();
    let start = clock.now();
    queue.enqueue(message("request")).expect("send");

    let mut log = Vec::new();
    loop {
        if let Some(delivery) = queue.try_receive(LOCK) {
            let at = (clock.now() - start).whole_seconds();
            log.push((delivery.message_id.clone(), at));
            // Each message schedules a continuation 17 s later, three times over.
            if log.len() < 4 {
                let next = format!("continuation-{}", log.len());
                let due = clock.now() + Duration::from_secs(17);
                queue.enqueue(scheduled(&next, due)).expect("send continuation");
            }
            queue.complete(delivery.lock_token).expect("complete");
        } else if let Some(due) = queue.next_due_time() {
            clock.advance_to(due);
        } else {
            break;
        }
    }

    let log: Vec<(&str, i64)> = log.iter().map(|(id, at)| (id.as_str(), *at)).collect();
    let expected = [("request", 0), ("continuation-1", 17), ("continuation-2", 34)];
    assert_eq!(log[..3], expected);
    assert_eq!(log[3], ("continuation-3", 51));
    assert!(queue.is_idle());
}

#[test]
fn next_due_time_includes_lock_expiry() {
    let (clock, queue) = queue();
    queue.enqueue(message("m1")).expect("send");
    let delivery = queue.try_receive(LOCK).expect("delivery");

    assert_eq!(queue.next_due_time(), Some(delivery.locked_until));
    clock.advance_to(delivery.locked_until);

    assert_eq!(queue.try_receive(LOCK).expect("redelivery").delivery_count, 2);
}

//! Peek-lock delivery: at-least-once redelivery, lock expiry, dead-lettering, settlement.

use std::sync::Arc;
use std::time::Duration;

use polaris::clock::{Clock, VirtualClock};
use polaris::queue::{EmbeddedQueue, MAX_DELIVERY_COUNT_EXCEEDED, QueueConfig, QueueError};
use polaris_core::ports::OutboundMessage;

const LOCK: Duration = Duration::from_secs(30);

fn message(id: &str) -> OutboundMessage {
    OutboundMessage {
        message_id: id.to_owned(),
        body: format!("{{\"id\":\"{id}\"}}").into_bytes(),
        scheduled_enqueue_time: None,
        correlation_id: Some("polaris-demo-0a1b2c3d".to_owned()),
    }
}

fn queue() -> (Arc<VirtualClock>, EmbeddedQueue) {
    let clock = Arc::new(VirtualClock::new());
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    (clock, EmbeddedQueue::new(dyn_clock))
}

#[test]
fn first_delivery_carries_the_message_and_count_one() {
    let (clock, queue) = queue();
    queue.enqueue(message("m1")).expect("send");

    let delivery = queue.try_receive(LOCK).expect("a due message");

    assert_eq!(delivery.message_id, "m1");
    assert_eq!(delivery.body, b"{\"id\":\"m1\"}");
    assert_eq!(delivery.correlation_id.as_deref(), Some("polaris-demo-0a1b2c3d"));
    assert_eq!(delivery.delivery_count, 1);
    assert_eq!(delivery.enqueued_time, clock.now());
    assert_eq!(delivery.locked_until, clock.now() + LOCK);
    assert!(queue.try_receive(LOCK).is_none(), "a locked message is not delivered twice");
    assert_eq!((queue.len(), queue.in_flight()), (0, 1));
}

#[test]
fn abandoned_message_is_redelivered_at_once_with_count_plus_one() {
    let (_clock, queue) = queue();
    queue.enqueue(message("m1")).expect("send");
    let first = queue.try_receive(LOCK).expect("first delivery");

    queue.abandon(first.lock_token).expect("abandon");
    let second = queue.try_receive(LOCK).expect("redelivery without waiting");

    assert_eq!(second.message_id, "m1");
    assert_eq!(second.sequence_number, first.sequence_number);
    assert_eq!(second.delivery_count, 2);
    assert_ne!(second.lock_token, first.lock_token);
    let stale = queue.complete(first.lock_token);
    assert_eq!(stale, Err(QueueError::LockLost { token: first.lock_token }));
    queue.complete(second.lock_token).expect("complete redelivery");
    assert!(queue.is_idle());
}

#[test]
fn abandoned_message_keeps_its_place_ahead_of_later_ones() {
    let (_clock, queue) = queue();
    for id in ["a", "b", "c"] {
        queue.enqueue(message(id)).expect("send");
    }

    let a = queue.try_receive(LOCK).expect("a");
    queue.abandon(a.lock_token).expect("abandon a");
    let order: Vec<String> = std::iter::from_fn(|| queue.try_receive(LOCK))
        .map(|delivery| delivery.message_id)
        .collect();

    assert_eq!(order, ["a", "b", "c"]);
}

#[test]
fn message_is_dead_lettered_after_max_delivery_count() {
    let (_clock, queue) = queue();
    queue.enqueue(message("poison")).expect("send");

    let mut counts = Vec::new();
    while let Some(delivery) = queue.try_receive(LOCK) {
        counts.push(delivery.delivery_count);
        queue.abandon(delivery.lock_token).expect("abandon");
    }

    assert_eq!(counts, (1..=10).collect::<Vec<u32>>(), "default MaxDeliveryCount is 10");
    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, "poison");
    assert_eq!(dead[0].reason, MAX_DELIVERY_COUNT_EXCEEDED);
    assert_eq!(dead[0].delivery_count, 10);
    assert!(queue.is_idle());
    let stats = queue.stats();
    assert_eq!((stats.delivered, stats.abandoned, stats.dead_lettered), (10, 10, 1));
}

#[test]
fn max_delivery_count_is_configurable() {
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let config = QueueConfig { max_delivery_count: 2, ..QueueConfig::default() };
    let queue = EmbeddedQueue::with_config(clock, config);
    queue.enqueue(message("m1")).expect("send");

    let first = queue.try_receive(LOCK).expect("first");
    queue.abandon(first.lock_token).expect("abandon");
    let second = queue.try_receive(LOCK).expect("second");
    queue.abandon(second.lock_token).expect("abandon");

    assert!(queue.try_receive(LOCK).is_none());
    assert_eq!(queue.dead_letters()[0].delivery_count, 2);
}

#[test]
fn expired_lock_makes_the_message_deliverable_again() {
    let (clock, queue) = queue();
    queue.enqueue(message("slow")).expect("send");
    let first = queue.try_receive(LOCK).expect("first delivery");

    clock.advance(LOCK - Duration::from_millis(1));
    assert!(queue.try_receive(LOCK).is_none(), "still locked just before expiry");
    clock.advance(Duration::from_millis(1));
    let second = queue.try_receive(LOCK).expect("redelivered at lock expiry");

    assert_eq!(second.message_id, "slow");
    assert_eq!(second.delivery_count, 2);
    assert_eq!(
        queue.complete(first.lock_token),
        Err(QueueError::LockLost { token: first.lock_token }),
        "the first receiver lost its lock (B17)"
    );
    queue.complete(second.lock_token).expect("second receiver completes");
    assert_eq!(queue.stats().lock_expired, 1);
}

#[test]
fn expired_lock_on_the_last_allowed_delivery_dead_letters() {
    let clock = Arc::new(VirtualClock::new());
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let config = QueueConfig { max_delivery_count: 1, ..QueueConfig::default() };
    let queue = EmbeddedQueue::with_config(dyn_clock, config);
    queue.enqueue(message("m1")).expect("send");
    queue.try_receive(LOCK).expect("only delivery");

    clock.advance(LOCK);

    assert!(queue.try_receive(LOCK).is_none());
    assert_eq!(queue.dead_letters()[0].reason, MAX_DELIVERY_COUNT_EXCEEDED);
}

#[test]
fn renewed_lock_holds_until_the_new_expiry() {
    let (clock, queue) = queue();
    queue.enqueue(message("m1")).expect("send");
    let delivery = queue.try_receive(LOCK).expect("delivery");

    clock.advance(Duration::from_secs(20));
    let until = queue.renew_lock(delivery.lock_token, LOCK).expect("renew");
    clock.advance(Duration::from_secs(20));

    assert_eq!(until, delivery.locked_until + Duration::from_secs(20));
    assert!(queue.try_receive(LOCK).is_none(), "renewed lock still held at +40 s");
    clock.advance(Duration::from_secs(10));
    assert_eq!(queue.try_receive(LOCK).expect("expired at +50 s").delivery_count, 2);
}

#[test]
fn explicit_dead_letter_keeps_reason_and_description() {
    let (clock, queue) = queue();
    queue.enqueue(message("bad")).expect("send");
    let delivery = queue.try_receive(LOCK).expect("delivery");

    queue
        .dead_letter(delivery.lock_token, "UnsupportedEncoding", Some("body has a preamble"))
        .expect("dead-letter");

    let dead = queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "UnsupportedEncoding");
    assert_eq!(dead[0].description.as_deref(), Some("body has a preamble"));
    assert_eq!(dead[0].dead_lettered_at, clock.now());
    assert_eq!(dead[0].delivery_count, 1);
    assert!(queue.is_idle());
}

#[test]
fn settling_twice_fails_with_lock_lost() {
    let (_clock, queue) = queue();
    queue.enqueue(message("m1")).expect("send");
    let delivery = queue.try_receive(LOCK).expect("delivery");

    queue.complete(delivery.lock_token).expect("complete");

    let token = delivery.lock_token;
    assert_eq!(queue.complete(token), Err(QueueError::LockLost { token }));
    assert_eq!(queue.abandon(token), Err(QueueError::LockLost { token }));
    assert!(queue.try_receive(LOCK).is_none(), "a completed message never comes back");
}

#[test]
fn injected_duplicate_reaches_a_second_receiver_while_the_first_holds_it() {
    let (_clock, queue) = queue();
    queue.enqueue(message("other")).expect("send");
    queue.enqueue(message("deploy")).expect("send");
    queue.duplicate_next_delivery(Some("deploy"));

    let other = queue.try_receive(LOCK).expect("other, not duplicated");
    let first = queue.try_receive(LOCK).expect("deploy");
    let second = queue.try_receive(LOCK).expect("deploy again, concurrently");

    assert_eq!(other.message_id, "other");
    assert_eq!((first.message_id.as_str(), second.message_id.as_str()), ("deploy", "deploy"));
    assert_eq!(first.sequence_number, second.sequence_number);
    assert_eq!((first.delivery_count, second.delivery_count), (1, 2));
    assert_eq!(queue.in_flight(), 3);
    queue.complete(first.lock_token).expect("first receiver completes");
    queue.complete(second.lock_token).expect("second receiver completes too");
    queue.complete(other.lock_token).expect("complete other");
    assert!(queue.try_receive(LOCK).is_none(), "the fault is one-shot");
    assert!(queue.is_idle());
}

//! The queue's bookkeeping as a plain state machine: every operation takes `now`, so the
//! rules can be read (and tested) without clocks, locks or tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use polaris_core::ports::{OutboundMessage, SendError};
use time::OffsetDateTime;
use tracing::{debug, warn};

use super::config::QueueConfig;
use super::delivery::{
    DeadLetter, Delivery, LockToken, MAX_DELIVERY_COUNT_EXCEEDED, QueueStats, SendOutcome,
};
use super::error::QueueError;

/// Service Bus's limit on `MessageId`.
const MAX_MESSAGE_ID_LEN: usize = 128;

/// The all-zero GUID: eShopOnContainers sent every message with it and lost all but the
/// first to duplicate detection (B18), so it counts as empty.
const NIL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// Where a waiting message sits: due time, then sequence number (FIFO among due ones),
/// then a copy number that tells apart injected duplicates of one message.
type Slot = (OffsetDateTime, u64, u64);

/// One copy of a message, waiting or locked.
#[derive(Clone, Debug)]
struct Entry {
    slot: Slot,
    message_id: String,
    correlation_id: Option<String>,
    body: Vec<u8>,
    enqueued_time: OffsetDateTime,
    /// Deliveries so far.
    delivery_count: u32,
}

#[derive(Debug)]
struct Locked {
    entry: Entry,
    until: OffsetDateTime,
}

/// A one-shot fault: the next matching delivery also stays available to a second receiver.
#[derive(Debug)]
struct DuplicateFault {
    message_id: Option<String>,
}

#[derive(Debug)]
pub struct QueueState {
    config: QueueConfig,
    next_sequence: u64,
    next_copy: u64,
    next_token: u64,
    /// Active and scheduled messages, earliest due first.
    waiting: BTreeMap<Slot, Entry>,
    locked: HashMap<LockToken, Locked>,
    /// Ids seen within the detection window, with when; `seen_order` is the same set in
    /// send order, so expiry pops from the front.
    seen: HashMap<String, OffsetDateTime>,
    seen_order: VecDeque<(OffsetDateTime, String)>,
    dead: Vec<DeadLetter>,
    stats: QueueStats,
    fault: Option<DuplicateFault>,
    /// Latest time seen, so a wall clock stepping back cannot revive an expired lock.
    latest: Option<OffsetDateTime>,
}

impl QueueState {
    pub fn new(mut config: QueueConfig) -> Self {
        config.max_delivery_count = config.max_delivery_count.max(1);
        Self {
            config,
            next_sequence: 1,
            next_copy: 1,
            next_token: 1,
            waiting: BTreeMap::new(),
            locked: HashMap::new(),
            seen: HashMap::new(),
            seen_order: VecDeque::new(),
            dead: Vec::new(),
            stats: QueueStats::default(),
            fault: None,
            latest: None,
        }
    }

    /// Returns `now`, or the latest time seen if the clock went backwards.
    pub fn observe(&mut self, now: OffsetDateTime) -> OffsetDateTime {
        let now = self.latest.map_or(now, |latest| latest.max(now));
        self.latest = Some(now);
        now
    }

    pub fn send(
        &mut self,
        message: OutboundMessage,
        now: OffsetDateTime,
    ) -> Result<SendOutcome, SendError> {
        check_message_id(&message.message_id)?;

        if self.is_duplicate(&message.message_id, now) {
            self.stats.duplicates_dropped += 1;
            debug!(message_id = %message.message_id, "dropped duplicate message");
            return Ok(SendOutcome::DuplicateDropped);
        }

        let due = message.scheduled_enqueue_time.map_or(now, |at| at.max(now));
        let sequence_number = self.next_sequence;
        self.next_sequence += 1;
        let entry = Entry {
            slot: (due, sequence_number, self.new_copy()),
            message_id: message.message_id,
            correlation_id: message.correlation_id,
            body: message.body,
            enqueued_time: due,
            delivery_count: 0,
        };

        debug!(message_id = %entry.message_id, sequence_number, %due, "enqueued message");
        self.waiting.insert(entry.slot, entry);
        self.stats.sent += 1;
        Ok(SendOutcome::Enqueued { sequence_number })
    }

    /// Locks the earliest due message for `lock`, if any is due.
    pub fn receive(&mut self, lock: Duration, now: OffsetDateTime) -> Option<Delivery> {
        self.expire_locks(now);

        let slot = *self.waiting.keys().next().filter(|slot| slot.0 <= now)?;
        let mut entry = self.waiting.remove(&slot)?;
        entry.delivery_count += 1;

        if self.take_fault(&entry.message_id) {
            let mut twin = entry.clone();
            twin.slot.2 = self.new_copy();
            debug!(message_id = %twin.message_id, "injected a duplicate delivery");
            self.waiting.insert(twin.slot, twin);
        }

        let token = LockToken(self.next_token);
        self.next_token += 1;
        let until = now + lock;
        let delivery = Delivery {
            message_id: entry.message_id.clone(),
            correlation_id: entry.correlation_id.clone(),
            body: entry.body.clone(),
            delivery_count: entry.delivery_count,
            sequence_number: entry.slot.1,
            enqueued_time: entry.enqueued_time,
            lock_token: token,
            locked_until: until,
        };

        debug!(
            message_id = %delivery.message_id,
            delivery_count = delivery.delivery_count,
            %token,
            "delivered message"
        );
        self.locked.insert(token, Locked { entry, until });
        self.stats.delivered += 1;
        Some(delivery)
    }

    pub fn complete(&mut self, token: LockToken, now: OffsetDateTime) -> Result<(), QueueError> {
        let locked = self.unlock(token, now)?;

        debug!(message_id = %locked.entry.message_id, %token, "completed message");
        self.stats.completed += 1;
        Ok(())
    }

    /// Releases the lock; the message is due again at once, in its old place.
    pub fn abandon(&mut self, token: LockToken, now: OffsetDateTime) -> Result<(), QueueError> {
        let locked = self.unlock(token, now)?;

        debug!(message_id = %locked.entry.message_id, %token, "abandoned message");
        self.stats.abandoned += 1;
        self.requeue(locked.entry, now);
        Ok(())
    }

    pub fn dead_letter(
        &mut self,
        token: LockToken,
        reason: &str,
        description: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), QueueError> {
        let locked = self.unlock(token, now)?;

        self.bury(locked.entry, reason, description.map(str::to_owned), now);
        Ok(())
    }

    /// Extends the lock to `now + lock`, as the Functions host does while a handler runs.
    pub fn renew_lock(
        &mut self,
        token: LockToken,
        lock: Duration,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, QueueError> {
        self.expire_locks(now);

        let locked = self.locked.get_mut(&token).ok_or(QueueError::LockLost { token })?;
        locked.until = now + lock;
        Ok(locked.until)
    }

    /// The earliest time at which `receive` may return something: a scheduled message
    /// falling due or a lock expiring. Already due counts too (returns a time <= `now`).
    pub fn next_due_time(&mut self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.expire_locks(now);

        let next_message = self.waiting.keys().next().map(|slot| slot.0);
        let next_expiry = self.locked.values().map(|locked| locked.until).min();
        next_message.into_iter().chain(next_expiry).min()
    }

    /// Messages waiting (due or scheduled), not counting locked ones.
    pub fn waiting(&mut self, now: OffsetDateTime) -> usize {
        self.expire_locks(now);
        self.waiting.len()
    }

    /// Messages locked by a receiver and not yet settled.
    pub fn in_flight(&mut self, now: OffsetDateTime) -> usize {
        self.expire_locks(now);
        self.locked.len()
    }

    pub fn dead_letters(&mut self, now: OffsetDateTime) -> Vec<DeadLetter> {
        self.expire_locks(now);
        self.dead.clone()
    }

    pub fn stats(&mut self, now: OffsetDateTime) -> QueueStats {
        self.expire_locks(now);
        self.stats
    }

    pub fn arm_duplicate_delivery(&mut self, message_id: Option<&str>) {
        self.fault = Some(DuplicateFault { message_id: message_id.map(str::to_owned) });
    }

    /// Records `id` as seen unless it already was within the window.
    fn is_duplicate(&mut self, id: &str, now: OffsetDateTime) -> bool {
        let Some(window) = self.config.duplicate_detection_window else {
            return false;
        };

        while let Some((seen_at, _)) = self.seen_order.front() {
            if *seen_at + window > now {
                break;
            }
            if let Some((_, expired)) = self.seen_order.pop_front() {
                self.seen.remove(&expired);
            }
        }

        if self.seen.contains_key(id) {
            return true;
        }
        self.seen.insert(id.to_owned(), now);
        self.seen_order.push_back((now, id.to_owned()));
        false
    }

    /// Puts every message whose lock ran out back in the queue (or the dead-letter queue).
    fn expire_locks(&mut self, now: OffsetDateTime) {
        let expired: Vec<LockToken> = self
            .locked
            .iter()
            .filter(|(_, locked)| locked.until <= now)
            .map(|(token, _)| *token)
            .collect();

        for token in expired {
            if let Some(locked) = self.locked.remove(&token) {
                debug!(message_id = %locked.entry.message_id, %token, "lock expired");
                self.stats.lock_expired += 1;
                self.requeue(locked.entry, now);
            }
        }
    }

    fn unlock(&mut self, token: LockToken, now: OffsetDateTime) -> Result<Locked, QueueError> {
        self.expire_locks(now);
        self.locked.remove(&token).ok_or(QueueError::LockLost { token })
    }

    /// Back to its old place in line, unless it has used up its deliveries.
    fn requeue(&mut self, entry: Entry, now: OffsetDateTime) {
        if entry.delivery_count >= self.config.max_delivery_count {
            let description = format!(
                "message could not be consumed after {} delivery attempts",
                self.config.max_delivery_count
            );
            self.bury(entry, MAX_DELIVERY_COUNT_EXCEEDED, Some(description), now);
            return;
        }
        self.waiting.insert(entry.slot, entry);
    }

    fn bury(
        &mut self,
        entry: Entry,
        reason: &str,
        description: Option<String>,
        now: OffsetDateTime,
    ) {
        warn!(
            message_id = %entry.message_id,
            delivery_count = entry.delivery_count,
            reason,
            "dead-lettered message"
        );
        self.stats.dead_lettered += 1;
        self.dead.push(DeadLetter {
            message_id: entry.message_id,
            correlation_id: entry.correlation_id,
            body: entry.body,
            delivery_count: entry.delivery_count,
            sequence_number: entry.slot.1,
            enqueued_time: entry.enqueued_time,
            dead_lettered_at: now,
            reason: reason.to_owned(),
            description,
        });
    }

    fn take_fault(&mut self, message_id: &str) -> bool {
        let matches = self.fault.as_ref().is_some_and(|fault| {
            fault.message_id.as_deref().is_none_or(|wanted| wanted == message_id)
        });
        if matches {
            self.fault = None;
        }
        matches
    }

    fn new_copy(&mut self) -> u64 {
        let copy = self.next_copy;
        self.next_copy += 1;
        copy
    }
}

/// Refuses ids that would defeat duplicate detection or that Service Bus rejects.
fn check_message_id(id: &str) -> Result<(), SendError> {
    if id.trim().is_empty() || id.eq_ignore_ascii_case(NIL_GUID) {
        return Err(SendError::EmptyMessageId);
    }
    if id.len() > MAX_MESSAGE_ID_LEN {
        return Err(SendError::Rejected {
            message: format!(
                "message id is {} bytes, over the {MAX_MESSAGE_ID_LEN} limit",
                id.len()
            ),
        });
    }
    Ok(())
}

//! What receivers get: deliveries, lock tokens and dead letters.

use std::fmt;

use time::OffsetDateTime;

/// `DeadLetterReason` Service Bus gives a message that ran out of deliveries.
pub const MAX_DELIVERY_COUNT_EXCEEDED: &str = "MaxDeliveryCountExceeded";

/// Names one delivery's lock; settling needs it. A redelivery gets a new token, so a
/// receiver whose lock expired cannot settle the copy someone else is working on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockToken(pub(super) u64);

impl fmt::Display for LockToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lock-{:08x}", self.0)
    }
}

/// A message handed to a receiver under a peek-lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub body: Vec<u8>,
    /// 1 on the first delivery, +1 on every redelivery (abandon or lock expiry).
    pub delivery_count: u32,
    /// Increases with each accepted send; copies of one message share it.
    pub sequence_number: u64,
    /// When the message became available: the send time, or its scheduled time.
    pub enqueued_time: OffsetDateTime,
    pub lock_token: LockToken,
    /// The message is redelivered if not settled (or renewed) by then.
    pub locked_until: OffsetDateTime,
}

/// A message moved to the dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub body: Vec<u8>,
    pub delivery_count: u32,
    pub sequence_number: u64,
    pub enqueued_time: OffsetDateTime,
    pub dead_lettered_at: OffsetDateTime,
    /// [`MAX_DELIVERY_COUNT_EXCEEDED`] or the reason a receiver gave.
    pub reason: String,
    pub description: Option<String>,
}

/// What became of an accepted send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Enqueued {
        sequence_number: u64,
    },
    /// The id was seen within the duplicate-detection window; like Service Bus, the send
    /// succeeds and the message is discarded (B18).
    DuplicateDropped,
}

/// Counters since the queue was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Sends accepted and enqueued (duplicates not included).
    pub sent: u64,
    pub duplicates_dropped: u64,
    /// Deliveries, redeliveries included.
    pub delivered: u64,
    pub completed: u64,
    pub abandoned: u64,
    pub lock_expired: u64,
    pub dead_lettered: u64,
}

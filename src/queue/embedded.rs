//! The in-process work queue used when Polaris runs on one machine.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use polaris_core::ports::{MessageSender, OutboundMessage, SendError};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::config::QueueConfig;
use super::delivery::{DeadLetter, Delivery, LockToken, QueueStats, SendOutcome};
use super::error::QueueError;
use super::state::QueueState;

/// Longest `recv_wait` sleeps before looking again, so a clock that jumps (or a virtual
/// clock advanced by a test) is noticed within this bound.
const MAX_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A queue with Service Bus semantics: peek-lock delivery, at-least-once redelivery with a
/// delivery count, dead-lettering, scheduled messages and duplicate detection.
///
/// # Guarantees
/// - A message is delivered again, with `delivery_count` + 1, when abandoned or when its
///   lock expires unsettled; it is dead-lettered with `MaxDeliveryCountExceeded` instead
///   once it has been delivered `max_delivery_count` times.
/// - A scheduled message is never delivered before its scheduled time.
/// - Due messages come out in send order, a redelivered one in its original place.
///
/// # Caveats
/// Time is read from the injected [`Clock`](crate::clock::Clock) at each call: lock expiry
/// and scheduled times take effect on the next call, not at the instant itself. With a
/// virtual clock use [`try_receive`](Self::try_receive) and
/// [`next_due_time`](Self::next_due_time); [`recv_wait`](Self::recv_wait) is for real time.
/// Messages live in memory only and are lost when the process exits; message time-to-live
/// and sessions are not modelled.
pub struct EmbeddedQueue {
    clock: Arc<dyn crate::clock::Clock>,
    state: Mutex<QueueState>,
    changed: Notify,
}

impl EmbeddedQueue {
    pub fn new(clock: Arc<dyn crate::clock::Clock>) -> Self {
        Self::with_config(clock, QueueConfig::default())
    }

    pub fn with_config(clock: Arc<dyn crate::clock::Clock>, config: QueueConfig) -> Self {
        Self { clock, state: Mutex::new(QueueState::new(config)), changed: Notify::new() }
    }

    /// Sends synchronously and tells whether the message was enqueued or dropped as a
    /// duplicate; [`MessageSender::send`] does the same and hides the difference, as
    /// Service Bus does.
    pub fn enqueue(&self, message: OutboundMessage) -> Result<SendOutcome, SendError> {
        let outcome = self.with_state(|state, now| state.send(message, now))?;
        if matches!(outcome, SendOutcome::Enqueued { .. }) {
            self.changed.notify_waiters();
        }
        Ok(outcome)
    }

    /// Locks and returns the earliest due message, or `None` when nothing is due now.
    pub fn try_receive(&self, lock: Duration) -> Option<Delivery> {
        self.with_state(|state, now| state.receive(lock, now))
    }

    /// Waits until a message is due and returns it locked.
    ///
    /// Wakes on every send and settlement, and otherwise sleeps (on tokio's timer) until
    /// the next scheduled message or lock expiry. Cancel-safe: dropping the future loses
    /// no message.
    pub async fn recv_wait(&self, lock: Duration) -> Delivery {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            if let Some(delivery) = self.try_receive(lock) {
                return delivery;
            }

            let Some(due) = self.next_due_time() else {
                changed.await;
                continue;
            };
            let wait = Duration::try_from(due - self.clock.now()).unwrap_or(Duration::ZERO);
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep(wait.min(MAX_POLL_INTERVAL)) => {}
            }
        }
    }

    /// Settles the delivery: the message is gone for good.
    pub fn complete(&self, token: LockToken) -> Result<(), QueueError> {
        self.with_state(|state, now| state.complete(token, now))
    }

    /// Gives the message back for immediate redelivery (or dead-letters it if it has used
    /// up its deliveries).
    pub fn abandon(&self, token: LockToken) -> Result<(), QueueError> {
        self.with_state(|state, now| state.abandon(token, now))?;
        self.changed.notify_waiters();
        Ok(())
    }

    /// Moves the message to the dead-letter queue with the receiver's reason.
    pub fn dead_letter(
        &self,
        token: LockToken,
        reason: &str,
        description: Option<&str>,
    ) -> Result<(), QueueError> {
        self.with_state(|state, now| state.dead_letter(token, reason, description, now))
    }

    /// Extends the lock to now + `lock`; returns the new expiry.
    pub fn renew_lock(
        &self,
        token: LockToken,
        lock: Duration,
    ) -> Result<OffsetDateTime, QueueError> {
        self.with_state(|state, now| state.renew_lock(token, lock, now))
    }

    /// When the next message falls due or the next lock expires (possibly already past),
    /// so a discrete-event driver can advance a virtual clock straight to it; `None` when
    /// the queue holds nothing at all.
    pub fn next_due_time(&self) -> Option<OffsetDateTime> {
        self.with_state(|state, now| state.next_due_time(now))
    }

    /// Messages waiting, due or scheduled (locked ones not included).
    pub fn len(&self) -> usize {
        self.with_state(|state, now| state.waiting(now))
    }

    /// True when no message is waiting (some may still be locked; see [`Self::is_idle`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages delivered and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.with_state(|state, now| state.in_flight(now))
    }

    /// True when nothing is waiting and nothing is locked: all work has been settled.
    pub fn is_idle(&self) -> bool {
        self.with_state(|state, now| state.waiting(now) == 0 && state.in_flight(now) == 0)
    }

    /// The dead-letter queue, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.with_state(|state, now| state.dead_letters(now))
    }

    pub fn stats(&self) -> QueueStats {
        self.with_state(|state, now| state.stats(now))
    }

    /// Fault injection: the next delivery (of `message_id`, or of any message) also stays
    /// available, so a second receiver gets the same message while the first still holds
    /// it, as a broker may after a lock loss (B17). One-shot.
    pub fn duplicate_next_delivery(&self, message_id: Option<&str>) {
        self.with_state(|state, _| state.arm_duplicate_delivery(message_id));
    }

    /// Runs `op` under the lock with the current time, read inside the lock so operations
    /// see time in the order they run.
    fn with_state<T>(&self, op: impl FnOnce(&mut QueueState, OffsetDateTime) -> T) -> T {
        let mut state = self.lock_state();
        let now = state.observe(self.clock.now());
        op(&mut state, now)
    }

    fn lock_state(&self) -> MutexGuard<'_, QueueState> {
        // Every operation leaves the state consistent before anything can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for EmbeddedQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedQueue").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

#[async_trait]
impl MessageSender for EmbeddedQueue {
    async fn send(&self, message: OutboundMessage) -> Result<(), SendError> {
        self.enqueue(message).map(|_| ())
    }
}

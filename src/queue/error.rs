//! Why settling a delivery failed.

use super::delivery::LockToken;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// Service Bus's `MessageLockLost`: the lock expired (the message is back in the queue
    /// or in someone else's hands) or the delivery was already settled.
    #[error("lock {token} is lost: it expired or the delivery was already settled")]
    LockLost { token: LockToken },
}

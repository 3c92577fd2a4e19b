//! The embedded work queue: Service Bus semantics in process, for the single-machine
//! default and for tests that need redelivery, dead-lettering and duplicate detection
//! without a broker.

mod config;
mod delivery;
mod embedded;
mod error;
mod state;

pub use config::{DEFAULT_DUPLICATE_DETECTION_WINDOW, DEFAULT_MAX_DELIVERY_COUNT, QueueConfig};
pub use delivery::{
    DeadLetter, Delivery, LockToken, MAX_DELIVERY_COUNT_EXCEEDED, QueueStats, SendOutcome,
};
pub use embedded::EmbeddedQueue;
pub use error::QueueError;

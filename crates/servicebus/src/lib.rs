//! Sends saga work messages to an Azure Service Bus queue over the documented REST API
//! (`POST https://{namespace}/{queue}/messages`), on `azure_core`'s HTTP pipeline.
//!
//! Why this crate exists: no published Rust crate speaks Service Bus with a Microsoft Entra
//! ID token *and* lets us point it at a configurable endpoint (a loopback fake in tests). The
//! send contract is small (one POST, one `BrokerProperties` JSON header, 201 on success), so
//! we implement it here on the same pipeline, credential and transport as the other Azure
//! clients, and test it against a fake that enforces that contract ([`fake`], behind the
//! `test-fake` feature).
//!
//! What it guarantees to the saga:
//! - an empty `MessageId` is refused before any I/O (B18: the broker's duplicate detection
//!   would silently drop every message after the first one with the same id);
//! - `ScheduledEnqueueTimeUtc` is sent as an RFC 1123 date, rounded *up* to whole seconds so
//!   "no sooner than" holds;
//! - throttling (429), server errors and connection failures are retried with `backon`,
//!   honouring `Retry-After`, within a bounded number of attempts and total wait; a
//!   `Retry-After` longer than we may wait ends the send at once so the caller can reschedule
//!   (B15);
//! - 400, 401, 403, 404 and 410 are final: `Rejected` with the status and the broker's text.

mod broker;
mod error;
mod retry;
mod sender;

#[cfg(feature = "test-fake")]
pub mod fake;

pub use error::SenderError;
pub use retry::SendRetry;
pub use sender::{SCOPE, ServiceBusSender, ServiceBusSenderOptions};

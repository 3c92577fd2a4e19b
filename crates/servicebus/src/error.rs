//! Construction errors. Send failures use the core's `SendError`, which the saga branches on.

/// Why a [`crate::ServiceBusSender`] could not be built; raised at start-up, so each variant
/// names the offending input.
#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error(
        "Service Bus endpoint `{url}` must be an https URL without query \
         (the bearer-token policy refuses plain http)"
    )]
    Endpoint { url: String },
    #[error("queue name `{name}` must be non-empty `/`-separated names")]
    Queue { name: String },
}

//! Errors raised while reading what the Functions host sends.

/// Why an invocation payload could not be turned into a typed trigger.
///
/// Every variant is permanent: the host sends the same payload again on a retry, so the
/// caller should settle the message for good (dead-letter it, or answer 2xx and log) rather
/// than fail the invocation and have it redelivered.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The request body is not the `{"Data":{...},"Metadata":{...}}` envelope.
    #[error("invocation body is not a Data/Metadata JSON envelope")]
    MalformedEnvelope(#[source] serde_json::Error),

    /// `Data.<binding>` is absent, which means function.json and the code disagree.
    #[error("binding `{0}` is missing from the invocation Data")]
    MissingBinding(String),

    /// `Data.<binding>` is present but does not have the shape its trigger type implies.
    #[error("binding `{binding}` has an unexpected shape: {reason}")]
    InvalidBinding { binding: String, reason: String },

    /// The message body is neither JSON nor plain text (for example a .NET serializer
    /// preamble written by the old `BrokeredMessage` library). Redelivery cannot fix it.
    #[error("message body has an unsupported encoding: {reason}")]
    UnsupportedEncoding { reason: String },

    /// An event carries neither the Event Grid schema keys nor the CloudEvents keys.
    #[error("event matches neither the Event Grid schema nor CloudEvents 1.0")]
    UnknownEventSchema,
}

impl HostError {
    /// A stable snake_case label for logs and dead-letter reasons, so dashboards can group
    /// failures without parsing the human-readable message.
    pub fn label(&self) -> &'static str {
        match self {
            Self::MalformedEnvelope(_) => "malformed_envelope",
            Self::MissingBinding(_) => "missing_binding",
            Self::InvalidBinding { .. } => "invalid_binding",
            Self::UnsupportedEncoding { .. } => "unsupported_encoding",
            Self::UnknownEventSchema => "unknown_event_schema",
        }
    }
}

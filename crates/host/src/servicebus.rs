//! The Service Bus queue trigger, as a custom handler receives it.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::decode::decode_layers;
use crate::envelope::InvocationRequest;
use crate::error::HostError;
use crate::timestamp::parse_timestamp;

/// Marks a body written by the pre-2018 .NET `BrokeredMessage` through the
/// DataContractSerializer: the JSON sits inside a binary XML wrapper naming this schema.
const DOTNET_SERIALIZATION_NS: &str = "http://schemas.microsoft.com/2003/10/Serialization/";

/// The message body after the host's encoding layers are removed.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyPayload {
    /// The body was a JSON object or array.
    Json(Value),
    /// The body was plain text (or a bare JSON scalar, kept as its text).
    Text(String),
}

impl BodyPayload {
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Self::Json(value) => Some(value),
            Self::Text(_) => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Json(_) => None,
            Self::Text(text) => Some(text),
        }
    }
}

/// One Service Bus message delivered to a `serviceBusTrigger` function (cardinality `one`).
///
/// Only the body can fail parsing. Every metadata field is optional or defaulted, because a
/// metadata quirk must never poison a message whose body is fine (field report B21).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceBusTrigger {
    pub body: BodyPayload,
    pub message_id: Option<String>,
    pub correlation_id: Option<String>,
    pub content_type: Option<String>,
    pub subject: Option<String>,
    pub sequence_number: Option<i64>,
    /// Defaults to 1 when missing or unreadable, the value of a first delivery.
    pub delivery_count: u32,
    pub enqueued_time_utc: Option<OffsetDateTime>,
    pub expires_at_utc: Option<OffsetDateTime>,
    pub application_properties: Map<String, Value>,
}

impl ServiceBusTrigger {
    /// Reads `Data.<binding>` and the message metadata.
    ///
    /// # Errors
    /// [`HostError::MissingBinding`] if the binding is absent, and
    /// [`HostError::UnsupportedEncoding`] for a body that is neither JSON nor text; the
    /// caller should dead-letter that message, since redelivery cannot fix it.
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Result<Self, HostError> {
        let body = parse_body(req.binding(binding)?)?;

        // The `DateTime` and `DateTimeOffset` keys carry the same instant; either will do.
        let time_of = |utc_key: &str, offset_key: &str| {
            [utc_key, offset_key].iter().find_map(|key| parse_timestamp(&req.metadata_text(key)?))
        };

        Ok(Self {
            body,
            message_id: req.metadata_text("MessageId"),
            correlation_id: req.metadata_text("CorrelationId"),
            content_type: req.metadata_text("ContentType"),
            subject: req.metadata_text("Subject").or_else(|| req.metadata_text("Label")),
            sequence_number: req.metadata_text("SequenceNumber").and_then(|s| s.parse().ok()),
            delivery_count: req
                .metadata_text("DeliveryCount")
                .and_then(|count| count.trim().parse().ok())
                .unwrap_or(1),
            enqueued_time_utc: time_of("EnqueuedTimeUtc", "EnqueuedTime"),
            expires_at_utc: time_of("ExpiresAtUtc", "ExpiresAt"),
            application_properties: application_properties(req),
        })
    }
}

/// Unwraps the body and sorts it into JSON or text, rejecting shapes no retry can fix.
fn parse_body(raw: &Value) -> Result<BodyPayload, HostError> {
    match decode_layers(raw.clone()) {
        value @ (Value::Object(_) | Value::Array(_)) => Ok(BodyPayload::Json(value)),
        Value::String(text) => classify_text(text),
        Value::Null => Err(unsupported("the body is null")),
        scalar => Ok(BodyPayload::Text(scalar.to_string())),
    }
}

fn classify_text(text: String) -> Result<BodyPayload, HostError> {
    if text.contains(DOTNET_SERIALIZATION_NS) || text.starts_with("@\u{6}string") {
        return Err(unsupported("a .NET DataContractSerializer preamble precedes the body"));
    }

    let binary = text.chars().any(|c| c == '\u{FFFD}' || (c.is_control() && !c.is_whitespace()));
    if binary {
        return Err(unsupported("the body holds binary data, not UTF-8 text"));
    }

    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Err(unsupported("the body starts like JSON but does not parse as JSON"));
    }

    Ok(BodyPayload::Text(text))
}

fn unsupported(reason: &str) -> HostError {
    HostError::UnsupportedEncoding { reason: reason.to_owned() }
}

/// `ApplicationProperties`, or the older `UserProperties` alias, as a plain map.
fn application_properties(req: &InvocationRequest) -> Map<String, Value> {
    ["ApplicationProperties", "UserProperties"]
        .iter()
        .filter_map(|key| req.metadata_value(key))
        .map(|value| decode_layers(value.clone()))
        .find_map(|value| match value {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: Value) -> InvocationRequest {
        InvocationRequest::from_value(json!({"Data": {"message": body}})).unwrap()
    }

    #[test]
    fn preamble_body_is_unsupported() {
        let body = "@\u{6}string\u{8}3http://schemas.microsoft.com/2003/10/Serialization/\
                    \u{9a}\u{5}{\"deploymentId\":\"d-1\"}\u{1}";
        let error = ServiceBusTrigger::from_invocation(&request(json!(body)), "message")
            .expect_err("rejects");

        assert!(matches!(error, HostError::UnsupportedEncoding { .. }));
        assert_eq!(error.label(), "unsupported_encoding");
    }

    #[test]
    fn broken_json_is_unsupported_but_text_is_fine() {
        let broken = ServiceBusTrigger::from_invocation(&request(json!("{\"a\":")), "message");
        assert!(matches!(broken, Err(HostError::UnsupportedEncoding { .. })));

        let text = ServiceBusTrigger::from_invocation(&request(json!("\"ping\"")), "message")
            .expect("text body");
        assert_eq!(text.body, BodyPayload::Text("ping".into()));
    }

    #[test]
    fn missing_metadata_gives_defaults() {
        let trigger =
            ServiceBusTrigger::from_invocation(&request(json!("{}")), "message").expect("parses");

        assert_eq!(trigger.delivery_count, 1);
        assert_eq!(trigger.message_id, None);
        assert_eq!(trigger.enqueued_time_utc, None);
        assert!(trigger.application_properties.is_empty());
    }

    #[test]
    fn numeric_delivery_count_is_accepted() {
        let req = InvocationRequest::from_value(json!({
            "Data": {"message": "{}"},
            "Metadata": {"DeliveryCount": 7, "EnqueuedTimeUtc": "not a time"}
        }))
        .unwrap();
        let trigger = ServiceBusTrigger::from_invocation(&req, "message").expect("parses");

        assert_eq!(trigger.delivery_count, 7);
        assert_eq!(trigger.enqueued_time_utc, None);
    }
}

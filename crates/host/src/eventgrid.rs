//! Event Grid events in either schema, normalised to one shape.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::decode::{decode_layers, metadata_text};
use crate::envelope::InvocationRequest;
use crate::error::HostError;
use crate::timestamp::parse_timestamp;

/// Which schema the subscription delivers; both carry the same information.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSchema {
    /// `id`, `topic`, `subject`, `eventType`, `eventTime`, `data`, `dataVersion`, ...
    EventGridSchema,
    /// CloudEvents 1.0: `specversion`, `id`, `source`, `type`, `time`, `subject`, `data`.
    CloudEvents,
}

/// One event, whichever schema delivered it.
///
/// Event Grid delivers at least once and out of order, so handlers key idempotency on `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    pub id: String,
    pub kind: EventSchema,
    pub event_type: String,
    pub subject: Option<String>,
    /// `topic` (Event Grid schema) or `source` (CloudEvents): the resource that emitted it.
    pub source: Option<String>,
    pub time: Option<OffsetDateTime>,
    pub data: Value,
}

/// Key names that differ between the two schemas.
struct SchemaKeys {
    kind: EventSchema,
    event_type: &'static str,
    source: &'static str,
    time: &'static str,
}

const EVENT_GRID_KEYS: SchemaKeys = SchemaKeys {
    kind: EventSchema::EventGridSchema,
    event_type: "eventType",
    source: "topic",
    time: "eventTime",
};

const CLOUD_EVENT_KEYS: SchemaKeys = SchemaKeys {
    kind: EventSchema::CloudEvents,
    event_type: "type",
    source: "source",
    time: "time",
};

impl IncomingEvent {
    /// Normalises one event object (or a JSON string holding one).
    ///
    /// The schema is told apart by its keys: `specversion` means CloudEvents, `eventType`
    /// means the Event Grid schema.
    pub fn from_value(value: &Value) -> Result<Self, HostError> {
        let Value::Object(event) = decode_layers(value.clone()) else {
            return Err(HostError::UnknownEventSchema);
        };

        let keys = if event.contains_key("specversion") {
            CLOUD_EVENT_KEYS
        } else if event.contains_key("eventType") {
            EVENT_GRID_KEYS
        } else {
            return Err(HostError::UnknownEventSchema);
        };

        let text = |key: &str| event.get(key).and_then(metadata_text);
        Ok(Self {
            id: text("id").ok_or(HostError::UnknownEventSchema)?,
            kind: keys.kind,
            event_type: text(keys.event_type).ok_or(HostError::UnknownEventSchema)?,
            subject: text("subject"),
            source: text(keys.source),
            time: text(keys.time).as_deref().and_then(parse_timestamp),
            data: event_data(&event),
        })
    }

    /// Normalises a webhook delivery body: an array of events, or a lone CloudEvent object.
    pub fn parse_batch(body: &Value) -> Result<Vec<Self>, HostError> {
        match decode_layers(body.clone()) {
            Value::Array(events) => events.iter().map(Self::from_value).collect(),
            single => Ok(vec![Self::from_value(&single)?]),
        }
    }
}

/// `data`, with the host's string layers removed; CloudEvents binary data is left as its
/// base64 text.
fn event_data(event: &Map<String, Value>) -> Value {
    match event.get("data").or_else(|| event.get("data_base64")) {
        Some(data) => decode_layers(data.clone()),
        None => Value::Null,
    }
}

/// An `eventGridTrigger` invocation: the host calls the function once per event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventGridTrigger {
    pub event: IncomingEvent,
}

impl EventGridTrigger {
    /// Reads `Data.<binding>`, which the host sends as the event object (a JSON string
    /// holding it is accepted too).
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Result<Self, HostError> {
        let mut event = IncomingEvent::from_value(req.binding(binding)?)?;
        if event.data.is_null()
            && let Some(data) = req.metadata_value("data")
        {
            event.data = decode_layers(data.clone());
        }
        Ok(Self { event })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_json_string_event_is_accepted() {
        let raw = json!({"id": "e1", "eventType": "t", "data": {"k": 1}}).to_string();
        let event = IncomingEvent::from_value(&json!(raw)).expect("parses");

        assert_eq!(event.kind, EventSchema::EventGridSchema);
        assert_eq!(event.data, json!({"k": 1}));
    }

    #[test]
    fn objects_without_schema_keys_are_rejected() {
        let error = IncomingEvent::from_value(&json!({"id": "x"})).expect_err("rejects");
        assert_eq!(error.label(), "unknown_event_schema");
    }

    #[test]
    fn metadata_data_fills_in_missing_event_data() {
        let req = InvocationRequest::from_value(json!({
            "Data": {"event": {"id": "e1", "specversion": "1.0", "type": "t", "source": "s"}},
            "Metadata": {"data": {"k": 2}}
        }))
        .unwrap();
        let trigger = EventGridTrigger::from_invocation(&req, "event").expect("parses");

        assert_eq!(trigger.event.data, json!({"k": 2}));
    }
}

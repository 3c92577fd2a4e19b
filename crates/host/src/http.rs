//! The `Data.req` object of a non-forwarded HTTP invocation.
//!
//! With forwarding on (our host.json) the handler gets the original HTTP request instead;
//! this shape only arrives if forwarding is switched off or the function gains an extra
//! binding, so the handler should still understand it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::decode::{decode_layers, metadata_text};
use crate::envelope::InvocationRequest;
use crate::error::HostError;

/// The original client request, as the host describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequestData {
    pub url: String,
    pub method: String,
    pub query: BTreeMap<String, String>,
    /// Header values as the host groups them; names keep the client's casing.
    pub headers: BTreeMap<String, Vec<String>>,
    pub params: BTreeMap<String, String>,
    /// The body as text; `None` when the request had none.
    pub body: Option<String>,
}

impl HttpRequestData {
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Result<Self, HostError> {
        Self::from_value(req.binding(binding)?).ok_or_else(|| HostError::InvalidBinding {
            binding: binding.to_owned(),
            reason: "the HTTP request is not a JSON object with Url and Method".to_owned(),
        })
    }

    /// Reads the request object. `Query` may be an object (current hosts) or the JSON text
    /// of one (hosts before September 2020, and the docs' sample).
    pub fn from_value(value: &Value) -> Option<Self> {
        let Value::Object(req) = decode_layers(value.clone()) else {
            return None;
        };

        Some(Self {
            url: req.get("Url").and_then(metadata_text)?,
            method: req.get("Method").and_then(metadata_text)?,
            query: text_map(req.get("Query")),
            headers: header_map(req.get("Headers")),
            params: text_map(req.get("Params")),
            body: req.get("Body").and_then(body_text),
        })
    }

    /// The first value of a header, matched case-insensitively as HTTP requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, values)| values.first())
            .map(String::as_str)
    }

    /// The body parsed as JSON (single- or double-encoded), if it is JSON.
    pub fn body_json(&self) -> Option<Value> {
        let parsed = serde_json::from_str::<Value>(self.body.as_deref()?).ok()?;
        Some(decode_layers(parsed))
    }
}

fn object_of(value: Option<&Value>) -> Map<String, Value> {
    match value.map(|v| decode_layers(v.clone())) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

fn text_map(value: Option<&Value>) -> BTreeMap<String, String> {
    object_of(value)
        .into_iter()
        .filter_map(|(key, value)| Some((key, metadata_text(&value)?)))
        .collect()
}

fn header_map(value: Option<&Value>) -> BTreeMap<String, Vec<String>> {
    object_of(value)
        .into_iter()
        .map(|(name, value)| {
            let values = match value {
                Value::Array(items) => items.iter().filter_map(metadata_text).collect(),
                single => metadata_text(&single).into_iter().collect(),
            };
            (name, values)
        })
        .collect()
}

/// The host sends the body as a string; anything else is kept as its JSON text.
fn body_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

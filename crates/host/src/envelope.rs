//! The request envelope the host POSTs to `/{FunctionName}` for non-forwarded invocations.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::decode::metadata_text;
use crate::error::HostError;

/// One invocation as the host sends it: `{"Data":{...},"Metadata":{...}}`.
///
/// `Data` holds the trigger and input binding values by binding name; `Metadata` holds the
/// trigger's binding data (message properties, `sys`, and for JSON bodies a copy of each
/// top-level property). Values are kept as raw JSON because the host encodes them in
/// several layers; the typed triggers in this crate decode what they need.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InvocationRequest {
    #[serde(rename = "Data", default, deserialize_with = "null_as_empty")]
    pub data: Map<String, Value>,

    #[serde(rename = "Metadata", default, deserialize_with = "null_as_empty")]
    pub metadata: Map<String, Value>,
}

/// `Metadata.RetryContext`, present only while a host retry policy re-invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryContext {
    pub retry_count: u32,
    pub max_retry_count: u32,
}

impl InvocationRequest {
    /// Parses the raw request body. The host sends it chunked, so callers must collect the
    /// whole body first.
    pub fn from_slice(body: &[u8]) -> Result<Self, HostError> {
        serde_json::from_slice(body).map_err(HostError::MalformedEnvelope)
    }

    /// Parses an already-decoded JSON body.
    pub fn from_value(body: Value) -> Result<Self, HostError> {
        serde_json::from_value(body).map_err(HostError::MalformedEnvelope)
    }

    /// `Data.<name>`, which function.json guarantees for the trigger binding.
    pub fn binding(&self, name: &str) -> Result<&Value, HostError> {
        self.data.get(name).ok_or_else(|| HostError::MissingBinding(name.to_owned()))
    }

    /// `Metadata.<key>`, matched exactly first and then case-insensitively, because the host
    /// keeps binding data in a case-insensitive dictionary.
    pub fn metadata_value(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key).or_else(|| {
            self.metadata.iter().find(|(name, _)| name.eq_ignore_ascii_case(key)).map(|(_, v)| v)
        })
    }

    /// `Metadata.<key>` as text, with the host's extra JSON quoting removed.
    pub fn metadata_text(&self, key: &str) -> Option<String> {
        self.metadata_value(key).and_then(metadata_text)
    }

    /// `Metadata.sys.MethodName`: the function name the host thinks it is invoking.
    pub fn method_name(&self) -> Option<String> {
        let sys = self.metadata_value("sys")?;
        sys.get("MethodName").and_then(metadata_text)
    }

    /// The retry policy's counters, if the host is retrying this invocation.
    pub fn retry_context(&self) -> Option<RetryContext> {
        let context = self.metadata_value("RetryContext")?;
        let count = |key: &str| context.get(key).and_then(metadata_text)?.parse::<u32>().ok();
        Some(RetryContext {
            retry_count: count("RetryCount")?,
            max_retry_count: count("MaxRetryCount")?,
        })
    }
}

/// The docs show `"Metadata": {}` and real hosts omit null values, but a `null` object must
/// not fail the whole invocation either.
fn null_as_empty<'de, D>(deserializer: D) -> Result<Map<String, Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn missing_and_null_sections_become_empty_maps() {
        let request = InvocationRequest::from_value(json!({"Data": null})).expect("parses");

        assert!(request.data.is_empty());
        assert!(request.metadata.is_empty());
    }

    #[test]
    fn a_non_object_body_is_malformed() {
        let error = InvocationRequest::from_slice(b"[1,2]").expect_err("rejects");
        assert_eq!(error.label(), "malformed_envelope");
    }

    #[test]
    fn metadata_lookup_ignores_case() {
        let request =
            InvocationRequest::from_value(json!({"Metadata": {"deliverycount": "2"}})).unwrap();
        assert_eq!(request.metadata_text("DeliveryCount").as_deref(), Some("2"));
    }

    #[test]
    fn missing_binding_names_the_binding() {
        let error = InvocationRequest::default().binding("message").expect_err("missing");
        assert!(matches!(error, HostError::MissingBinding(name) if name == "message"));
    }
}

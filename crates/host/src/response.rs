//! The response envelope the handler returns for non-forwarded invocations.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::{Map, Value};

/// Content type the host requires on every invocation response; `text/plain` fails it.
pub const RESPONSE_CONTENT_TYPE: &str = "application/json";

/// `{"Outputs":{...},"Logs":[...],"ReturnValue":...}`, answered with a 2xx status.
///
/// All three keys are always written, so the body is never empty: an empty 200 body can
/// leave the invocation hanging until `functionTimeout`.
///
/// The host tries to base64-decode every *string* output and return value before binding it,
/// so a string such as `"test"` would reach the binding as bytes. Send objects, or use
/// [`HttpOutput`], whose body is JSON text that is never valid base64.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,

    /// Lines the host logs at Information level for this invocation.
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,

    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

impl InvocationResponse {
    /// A success with no outputs: what Service Bus, timer and Event Grid functions return.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    pub fn with_output(mut self, binding: impl Into<String>, value: Value) -> Self {
        self.outputs.insert(binding.into(), value);
        self
    }

    /// Sets the `http` output binding (`res` in function.json) of a non-forwarded function.
    pub fn with_http_output(self, binding: impl Into<String>, output: &HttpOutput) -> Self {
        self.with_output(binding, output.to_value())
    }

    /// The serialized body; infallible because every field is already JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// The `http` output binding value for a non-forwarded HTTP function.
///
/// Without forwarding the handler cannot choose the caller's status with its own reply
/// status (a non-2xx reply is a host error), so the status travels here instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutput {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    /// Response body text; [`HttpOutput::json`] makes it JSON text.
    pub body: String,
}

impl HttpOutput {
    /// A JSON response. The body is serialized to text so the host passes it through instead
    /// of binding an object, and JSON object or array text always contains characters that
    /// base64 does not use.
    pub fn json(status_code: u16, body: &Value) -> Self {
        let headers = BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]);
        Self { status_code, headers, body: body.to_string() }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// `{"statusCode":"201","headers":{...},"body":"..."}`; the host reads `statusCode` as a
    /// string.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for HttpOutput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("statusCode", &self.status_code.to_string())?;
        map.serialize_entry("headers", &self.headers)?;
        map.serialize_entry("body", &self.body)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_empty_response_still_has_every_key() {
        let body: Value = serde_json::from_str(&InvocationResponse::new().to_json()).unwrap();
        assert_eq!(body, json!({"Outputs": {}, "Logs": [], "ReturnValue": null}));
    }

    #[test]
    fn http_output_writes_the_status_as_a_string() {
        let output = HttpOutput::json(404, &json!({"error": "not found"}));
        assert_eq!(output.to_value()["statusCode"], json!("404"));
        assert_eq!(output.to_value()["body"], json!("{\"error\":\"not found\"}"));
    }
}

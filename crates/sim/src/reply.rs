//! The response a handler produces, before common headers are added and warp renders it.

use http::StatusCode;
use serde_json::Value;

/// A handler's answer: status, extra headers and an optional JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Close the connection instead of answering (fault injection).
    pub reset: bool,
}

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: Some(body), reset: false }
    }

    pub fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub fn empty(status: StatusCode) -> Self {
        Self { status, headers: Vec::new(), body: None, reset: false }
    }

    pub fn reset() -> Self {
        Self { reset: true, ..Self::empty(StatusCode::BAD_GATEWAY) }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

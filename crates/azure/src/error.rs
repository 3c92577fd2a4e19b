//! Errors from ARM and Key Vault calls, with the service's own code and message.
//!
//! Both services wrap errors as `{"error": {"code", "message", ...}}` (ARM adds `target` and
//! `details`; Key Vault adds `innererror`). A 429 is classified from its status alone, before
//! any body is read, so a throttling answer with an odd body can never turn into a parse
//! error (field report B14).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest service message kept; anything longer is cut, since messages end up in saga
/// history and API answers.
const MAX_MESSAGE_CHARS: usize = 2_000;

/// One entry of `error.details` (or Key Vault's `innererror`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    pub target: Option<String>,
}

/// An error status answered by Azure, with what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
    pub details: Vec<ErrorDetail>,
    pub request_id: Option<String>,
    pub retry_after_secs: Option<u64>,
}

impl ServiceError {
    /// Builds the error from a status and a (possibly empty or non-JSON) body.
    pub fn from_body(status: u16, body: &[u8]) -> Self {
        let parsed = serde_json::from_slice::<Value>(body).ok();
        let parts = parsed.as_ref().map(ErrorParts::of).unwrap_or_default();

        let code = parts.code.unwrap_or_else(|| status_code_name(status));
        let message = match parts.message {
            Some(message) => message,
            None if parsed.is_none() => truncate(&text_excerpt(body)),
            None => String::new(),
        };

        Self {
            status,
            code,
            message,
            target: parts.target,
            details: parts.details,
            request_id: None,
            retry_after_secs: None,
        }
    }

    /// Every code and message in the error, the top level first, for text classification.
    pub fn all_text(&self) -> String {
        let mut text = format!("{} {}", self.code, self.message);
        for detail in &self.details {
            text.push(' ');
            text.push_str(&detail.code);
            text.push(' ');
            text.push_str(&detail.message);
        }
        text
    }
}

/// The fields of an `error` object, or of a body that wraps one in `"error"`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ErrorParts {
    pub code: Option<String>,
    pub message: Option<String>,
    pub target: Option<String>,
    pub details: Vec<ErrorDetail>,
}

impl ErrorParts {
    pub fn of(value: &Value) -> Self {
        let error = value.get("error").filter(|e| e.is_object()).unwrap_or(value);
        let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_owned);
        Self {
            code: text("code").filter(|c| !c.is_empty()),
            message: text("message").map(|m| truncate(&m)),
            target: text("target"),
            details: details_of(error),
        }
    }
}

fn details_of(error: &Value) -> Vec<ErrorDetail> {
    let mut details: Vec<ErrorDetail> = error
        .get("details")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(detail_of).collect())
        .unwrap_or_default();

    // Key Vault nests the specific reason (e.g. `AKV.SKR.1004`) under `innererror`.
    let mut inner = error.get("innererror");
    while let Some(value) = inner {
        details.push(detail_of(value));
        inner = value.get("innererror");
    }
    details
}

fn detail_of(value: &Value) -> ErrorDetail {
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    ErrorDetail {
        code: text("code").unwrap_or_default(),
        message: truncate(&text("message").unwrap_or_default()),
        target: text("target"),
    }
}

fn text_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A code for an error body that carried none.
fn status_code_name(status: u16) -> String {
    let name = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        409 => "Conflict",
        412 => "PreconditionFailed",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return format!("Http{status}"),
    };
    name.to_owned()
}

/// Why a request got no HTTP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportFailure {
    /// No connection was made, so the request was never sent: safe to retry any verb.
    Connect,
    /// No answer in time after the request may have been sent.
    Timeout,
    /// The connection broke (reset, closed early).
    Io,
    /// Anything else the pipeline refused (bad URL scheme, body stream failure).
    Other,
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connection failed",
            Self::Timeout => "timed out",
            Self::Io => "connection broken",
            Self::Other => "request failed",
        })
    }
}

/// An ARM or Key Vault call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// HTTP 429, whatever the body says.
    #[error("throttled (HTTP 429 {}), retry after {:?} s", .0.code, .0.retry_after_secs)]
    Throttled(Box<ServiceError>),
    /// Any other error status.
    #[error("HTTP {} {}: {}", .0.status, .0.code, .0.message)]
    Service(Box<ServiceError>),
    /// No HTTP answer. `write` is true for PUT/POST/DELETE/PATCH: a write that timed out may
    /// or may not have taken effect.
    #[error("{method} {url}: {failure}")]
    Transport {
        method: &'static str,
        url: String,
        failure: TransportFailure,
        write: bool,
        #[source]
        source: Box<azure_core::Error>,
    },
    #[error("cannot obtain an access token")]
    Credential(#[source] Box<azure_core::Error>),
    /// A success status whose body is not JSON.
    #[error("HTTP {status}: response body is not JSON (request id {request_id:?})")]
    InvalidBody {
        status: u16,
        request_id: Option<String>,
        #[source]
        source: serde_json::Error,
    },
    /// A polling URL that points away from the configured endpoint; following it would send
    /// our token to another host.
    #[error("refusing to call `{url}`: it is not on the endpoint `{expected}`")]
    ForeignUrl { url: String, expected: String },
    #[error("cannot build a request URL from `{input}`")]
    InvalidUrl {
        input: String,
        #[source]
        source: url::ParseError,
    },
}

impl ArmError {
    /// The service's answer, for `Throttled` and `Service`.
    pub fn service(&self) -> Option<&ServiceError> {
        match self {
            Self::Throttled(e) | Self::Service(e) => Some(e),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        self.service().map(|e| e.status)
    }

    pub fn code(&self) -> Option<&str> {
        self.service().map(|e| e.code.as_str())
    }

    pub fn request_id(&self) -> Option<&str> {
        self.service().and_then(|e| e.request_id.as_deref())
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        self.service().and_then(|e| e.retry_after_secs)
    }

    /// A one-line description without the service's message: safe to log, because Azure
    /// messages can echo request content (and so secrets).
    pub fn summary(&self) -> String {
        match self {
            Self::Throttled(e) | Self::Service(e) => format!("HTTP {} {}", e.status, e.code),
            Self::Transport { method, url, failure, .. } => format!("{method} {url}: {failure}"),
            Self::Credential(_) => "cannot obtain an access token".to_owned(),
            Self::InvalidBody { status, .. } => format!("HTTP {status}: body is not JSON"),
            Self::ForeignUrl { .. } | Self::InvalidUrl { .. } => "invalid request URL".to_owned(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether another attempt of the same request can succeed, and may be made in
    /// process: throttling, 408, 5xx and broken connections; a timed-out write is not
    /// retried blindly, because its outcome is unknown.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Throttled(_) => true,
            Self::Service(e) => e.status == 408 || e.status >= 500,
            Self::Transport { failure, write, .. } => match failure {
                TransportFailure::Connect | TransportFailure::Io => true,
                TransportFailure::Timeout => !write,
                TransportFailure::Other => false,
            },
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_error_body_is_parsed_with_details() {
        let body = br#"{"error":{"code":"InvalidParameter","message":"bad","target":"x",
            "details":[{"code":"Inner","message":"deeper"}]}}"#;
        let e = ServiceError::from_body(400, body);
        assert_eq!(e.code, "InvalidParameter");
        assert_eq!(e.message, "bad");
        assert_eq!(e.target.as_deref(), Some("x"));
        assert_eq!(e.details[0].code, "Inner");
        assert!(e.all_text().contains("deeper"));
    }

    #[test]
    fn key_vault_innererror_becomes_a_detail() {
        let body = br#"{"error":{"code":"BadParameter","message":"no policy",
            "innererror":{"code":"AKV.SKR.1004"}}}"#;
        let e = ServiceError::from_body(400, body);
        assert_eq!(e.code, "BadParameter");
        assert_eq!(e.details[0].code, "AKV.SKR.1004");
    }

    #[test]
    fn non_json_and_empty_bodies_get_a_status_code() {
        let e = ServiceError::from_body(503, b"<html>\n upstream   down </html>");
        assert_eq!(e.code, "ServiceUnavailable");
        assert_eq!(e.message, "<html> upstream down </html>");

        let e = ServiceError::from_body(429, b"");
        assert_eq!(e.code, "TooManyRequests");
        assert_eq!(e.message, "");
    }

    #[test]
    fn unwrapped_error_shape_is_accepted() {
        let e = ServiceError::from_body(409, br#"{"code":"Conflict","message":"busy"}"#);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("Conflict", "busy"));
    }
}

//! A successful ARM / Key Vault answer, reduced to what the executor acts on.

use azure_core::http::headers::Headers;
use serde_json::Value;
use time::OffsetDateTime;

/// Header names as `azure_core` stores them (lower case); ACI's examples send
/// `azure-asyncoperation` in lower case, which is why nothing here depends on case.
pub(crate) mod header {
    pub const REQUEST_ID: &str = "x-ms-request-id";
    pub const RETRY_AFTER: &str = "retry-after";
    pub const RETRY_AFTER_MS: &str = "retry-after-ms";
    pub const X_MS_RETRY_AFTER_MS: &str = "x-ms-retry-after-ms";
    pub const ASYNC_OPERATION: &str = "azure-asyncoperation";
    pub const LOCATION: &str = "location";
}

/// A 2xx answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmResponse {
    pub status: u16,
    /// The JSON body; `None` when the body was empty.
    pub body: Option<Value>,
    pub request_id: Option<String>,
    pub retry_after_secs: Option<u64>,
    /// `Azure-AsyncOperation`: the operation-status resource to poll.
    pub async_operation_url: Option<String>,
    /// `Location`: the operation-result URL to poll (202 until done).
    pub location_url: Option<String>,
}

impl ArmResponse {
    /// `properties.provisioningState`, if the body has one.
    pub fn provisioning_state(&self) -> Option<&str> {
        self.body.as_ref().and_then(provisioning_state)
    }
}

/// `properties.provisioningState` of a resource body.
pub fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState").and_then(Value::as_str)
}

/// The headers the executor needs, read once per response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResponseHeaders {
    pub request_id: Option<String>,
    pub retry_after_secs: Option<u64>,
    pub async_operation_url: Option<String>,
    pub location_url: Option<String>,
}

impl ResponseHeaders {
    pub fn read(headers: &Headers) -> Self {
        let get = |name: &'static str| {
            headers
                .get_optional_str(&name.into())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let retry_after = get(header::RETRY_AFTER)
            .and_then(|v| parse_retry_after(&v, OffsetDateTime::now_utc()))
            .or_else(|| get(header::X_MS_RETRY_AFTER_MS).and_then(|v| parse_millis(&v)))
            .or_else(|| get(header::RETRY_AFTER_MS).and_then(|v| parse_millis(&v)));

        Self {
            request_id: get(header::REQUEST_ID),
            retry_after_secs: retry_after,
            async_operation_url: get(header::ASYNC_OPERATION),
            location_url: get(header::LOCATION),
        }
    }
}

/// Parses `Retry-After`: integer seconds (what ARM sends) or an HTTP-date (what RFC 9110
/// also allows), as whole seconds from `now`; a date in the past means "now".
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs);
    }

    let at = azure_core::time::parse_rfc7231(value).ok()?;
    let wait = (at - now).as_seconds_f64().ceil();
    Some(if wait > 0.0 { wait as u64 } else { 0 })
}

/// Millisecond headers, rounded up to whole seconds.
fn parse_millis(value: &str) -> Option<u64> {
    value.trim().parse::<u64>().ok().map(|ms| ms.div_ceil(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = datetime!(2026-12-04 12:00:00 UTC);
        assert_eq!(parse_retry_after("17", now), Some(17));
        assert_eq!(parse_retry_after(" 900 ", now), Some(900));
        assert_eq!(parse_retry_after("Fri, 04 Dec 2026 12:00:17 GMT", now), Some(17));
        assert_eq!(parse_retry_after("Fri, 04 Dec 2026 11:00:00 GMT", now), Some(0));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn headers_are_read_case_insensitively() {
        let mut headers = Headers::new();
        headers.insert("Azure-AsyncOperation".to_owned(), "https://arm/op/1");
        headers.insert("X-MS-Request-Id".to_owned(), "req-1");
        headers.insert("x-ms-retry-after-ms", "1500");
        let read = ResponseHeaders::read(&headers);
        assert_eq!(read.async_operation_url.as_deref(), Some("https://arm/op/1"));
        assert_eq!(read.request_id.as_deref(), Some("req-1"));
        assert_eq!(read.retry_after_secs, Some(2));
    }
}

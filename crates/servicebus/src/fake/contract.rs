//! The documented send contract, as the fake enforces it. Each refusal carries the status
//! the real broker would give and a reason a failing test can print.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper::body::Bytes;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::PrimitiveDateTime;
use time::macros::format_description;
use warp::http::{HeaderMap, Method};

use super::ReceivedMessage;

/// The audience a Service Bus data-plane token must carry.
pub(crate) const AUDIENCE: &str = "https://servicebus.azure.net";

/// Why the fake refused a request: the status to answer and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Self { status, reason: reason.into() }
    }
}

/// One request as it reached the fake.
pub(crate) struct Incoming<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

/// Checks `incoming` against the contract; the queue must be one of `queues`.
pub(crate) fn check(
    incoming: Incoming<'_>,
    queues: &[String],
    now: OffsetDateTime,
) -> Result<ReceivedMessage, Refusal> {
    if incoming.method != Method::POST {
        return Err(Refusal::new(
            405,
            format!("{} is not allowed; send with POST", incoming.method),
        ));
    }
    let queue = queue_of(incoming.path)?;
    check_bearer(incoming.headers, now)?;
    if !queues.iter().any(|q| q == queue) {
        return Err(Refusal::new(410, format!("entity `{queue}` does not exist")));
    }

    let props = broker_properties(incoming.headers)?;
    let message_id = message_id(&props)?;
    let correlation_id = optional_string(&props, "CorrelationId")?;
    let scheduled = match optional_string(&props, "ScheduledEnqueueTimeUtc")? {
        Some(text) => Some(parse_http_date(&text)?),
        None => None,
    };
    let content_type = header(incoming.headers, "content-type").map(str::to_owned);

    Ok(ReceivedMessage {
        queue: queue.to_owned(),
        message_id,
        correlation_id,
        scheduled_enqueue_time: scheduled,
        content_type,
        body: incoming.body.to_vec(),
        broker_properties: props,
    })
}

/// `/{queue}/messages`, where the queue path may itself contain `/`.
fn queue_of(path: &str) -> Result<&str, Refusal> {
    path.strip_prefix('/')
        .and_then(|p| p.strip_suffix("/messages"))
        .filter(|q| !q.is_empty() && !q.split('/').any(str::is_empty))
        .ok_or_else(|| Refusal::new(404, format!("`{path}` is not /{{queue}}/messages")))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Authorization: Bearer <jwt>` for the Service Bus audience, not expired.
fn check_bearer(headers: &HeaderMap, now: OffsetDateTime) -> Result<(), Refusal> {
    let unauthorized = |why: &str| Refusal::new(401, format!("authorization failure: {why}"));
    let value = header(headers, "authorization").ok_or_else(|| unauthorized("no Authorization"))?;
    let token = value.strip_prefix("Bearer ").ok_or_else(|| unauthorized("not a Bearer token"))?;

    let claims = token
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok())
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .ok_or_else(|| unauthorized("the token is not a JWT"))?;

    let audience = claims["aud"].as_str().unwrap_or_default().trim_end_matches('/');
    if audience != AUDIENCE {
        return Err(unauthorized(&format!("audience `{audience}` is not `{AUDIENCE}`")));
    }
    let expired = claims["exp"].as_i64().is_none_or(|exp| exp <= now.unix_timestamp());
    if expired {
        return Err(unauthorized("the token has expired"));
    }
    Ok(())
}

/// The fake runs with duplicate detection on, so every message needs `BrokerProperties`
/// holding a JSON object with a `MessageId`.
fn broker_properties(headers: &HeaderMap) -> Result<Map<String, Value>, Refusal> {
    let text = header(headers, "brokerproperties")
        .ok_or_else(|| Refusal::new(400, "BrokerProperties header is missing"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(props)) => Ok(props),
        Ok(_) => Err(Refusal::new(400, "BrokerProperties is not a JSON object")),
        Err(err) => Err(Refusal::new(400, format!("BrokerProperties is not JSON: {err}"))),
    }
}

fn message_id(props: &Map<String, Value>) -> Result<String, Refusal> {
    let id = optional_string(props, "MessageId")?.unwrap_or_default();
    if id.trim().is_empty() {
        return Err(Refusal::new(400, "MessageId is missing or empty"));
    }
    if id.chars().count() > 128 {
        return Err(Refusal::new(400, "MessageId is longer than 128 characters"));
    }
    Ok(id)
}

fn optional_string(props: &Map<String, Value>, name: &str) -> Result<Option<String>, Refusal> {
    match props.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Refusal::new(400, format!("{name} must be a string, got {other}"))),
    }
}

/// RFC 1123 HTTP-date, `Wed, 06 Nov 2024 10:30:00 GMT`. Surrounding spaces are tolerated as
/// in the documentation's own example.
pub(crate) fn parse_http_date(text: &str) -> Result<OffsetDateTime, Refusal> {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let parsed = PrimitiveDateTime::parse(text.trim(), format);
    parsed.map(PrimitiveDateTime::assume_utc).map_err(|err| {
        let why = format!("ScheduledEnqueueTimeUtc `{text}` is not RFC 1123: {err}");
        Refusal::new(400, why)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_parse_as_documented() {
        let at = parse_http_date("Wed, 06 Nov 2024 10:30:00 GMT").unwrap();
        assert_eq!(at, datetime!(2024-11-06 10:30:00 UTC));
        assert!(parse_http_date(" Sun, 06 Nov 1994 08:49:37 GMT").is_ok());

        for bad in ["2024-11-06T10:30:00Z", "Wed, 06 Nov 2024 10:30:00 +0000", "Wed, 6 Nov 24"] {
            assert_eq!(parse_http_date(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn queue_paths() {
        assert_eq!(queue_of("/orders/messages").unwrap(), "orders");
        assert_eq!(queue_of("/t/subscriptions/s/messages").unwrap(), "t/subscriptions/s");
        let bad_paths =
            ["/messages", "//messages", "/orders", "/orders/messages/x", "orders/messages"];
        for bad in bad_paths {
            assert_eq!(queue_of(bad).unwrap_err().status, 404, "{bad}");
        }
    }
}

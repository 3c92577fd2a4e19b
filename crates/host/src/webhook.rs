//! Event Grid webhook handshakes for the embedded runtime's own webhook.
//!
//! In Azure the Functions host answers both handshakes before the handler is invoked. The
//! embedded runtime has no host, so its webhook must answer them itself; these functions
//! hold the protocol and leave the HTTP plumbing to the caller.

use serde_json::{Value, json};

use crate::decode::{decode_layers, metadata_text};

/// The event type of an Event Grid schema subscription handshake.
pub const SUBSCRIPTION_VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// Origins granted by default in the CloudEvents abuse-protection handshake.
pub const DEFAULT_ALLOWED_ORIGINS: &[&str] = &["eventgrid.azure.net"];

/// Answers an Event Grid schema subscription handshake.
///
/// `events` is the delivery body (an array, or one event). If its first event is a
/// `SubscriptionValidationEvent`, returns the `{"validationResponse": code}` body that must
/// be sent with status 200 (202 is not accepted). Otherwise returns `None`: the delivery
/// holds real events.
pub fn validation_response(events: &Value) -> Option<Value> {
    let first = match decode_layers(events.clone()) {
        Value::Array(items) => items.into_iter().next()?,
        single => single,
    };

    let event_type = first.get("eventType").and_then(metadata_text)?;
    if event_type != SUBSCRIPTION_VALIDATION_EVENT {
        return None;
    }

    let code = first.get("data")?.get("validationCode").and_then(metadata_text)?;
    Some(json!({ "validationResponse": code }))
}

/// The CloudEvents webhook abuse-protection grant (CloudEvents HTTP webhook spec §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseProtectionGrant {
    /// Value for `WebHook-Allowed-Origin`: the requesting origin.
    pub allowed_origin: String,
    /// Value for `WebHook-Allowed-Rate`, set only when the request asked for a rate.
    pub allowed_rate: Option<String>,
}

impl AbuseProtectionGrant {
    /// The headers to send with the 200 answer to the `OPTIONS` request.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("WebHook-Allowed-Origin", self.allowed_origin.clone())];
        if let Some(rate) = &self.allowed_rate {
            headers.push(("WebHook-Allowed-Rate", rate.clone()));
        }
        headers
    }
}

/// Answers a CloudEvents validation `OPTIONS` request from its headers.
///
/// Header names are matched case-insensitively. Returns `None` when there is no
/// `WebHook-Request-Origin` header or the origin is not in `allowed_origins`; the caller then
/// answers without granting (for example 403). A requested rate is granted without limit
/// (`*`), since the handler's own concurrency limits already bound the work.
pub fn abuse_protection_response<I, K, V>(
    headers: I,
    allowed_origins: &[&str],
) -> Option<AbuseProtectionGrant>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut origin = None;
    let mut rate_requested = false;
    for (name, value) in headers {
        let name = name.as_ref();
        if name.eq_ignore_ascii_case("WebHook-Request-Origin") {
            origin = Some(value.as_ref().trim().to_owned());
        } else if name.eq_ignore_ascii_case("WebHook-Request-Rate") {
            rate_requested = true;
        }
    }

    let origin = origin.filter(|origin| {
        allowed_origins.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))
    })?;
    Some(AbuseProtectionGrant {
        allowed_origin: origin,
        allowed_rate: rate_requested.then(|| "*".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_events_need_no_validation_answer() {
        let events = json!([{"eventType": "Microsoft.Resources.ResourceDeleteSuccess"}]);
        assert_eq!(validation_response(&events), None);
    }

    #[test]
    fn header_names_are_case_insensitive_and_rate_is_granted() {
        let headers =
            [("webhook-request-origin", "eventgrid.azure.net"), ("WEBHOOK-REQUEST-RATE", "120")];
        let grant = abuse_protection_response(headers, DEFAULT_ALLOWED_ORIGINS).expect("grants");

        assert_eq!(grant.allowed_rate.as_deref(), Some("*"));
        assert_eq!(grant.headers().len(), 2);
    }

    #[test]
    fn unknown_origins_and_missing_headers_are_refused() {
        let other = [("WebHook-Request-Origin", "attacker.example")];
        assert_eq!(abuse_protection_response(other, DEFAULT_ALLOWED_ORIGINS), None);

        let none: [(&str, &str); 0] = [];
        assert_eq!(abuse_protection_response(none, DEFAULT_ALLOWED_ORIGINS), None);
    }
}

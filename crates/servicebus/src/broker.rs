//! The `BrokerProperties` header: a JSON object carrying the broker-level fields we set.

use serde::Serialize;
use time::{Duration, OffsetDateTime, UtcOffset};

/// Longest `MessageId` the broker accepts.
pub(crate) const MAX_MESSAGE_ID_LEN: usize = 128;

/// The settable broker properties we use; absent ones are omitted, not sent empty.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BrokerProperties<'a> {
    pub message_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_enqueue_time_utc: Option<String>,
}

impl BrokerProperties<'_> {
    /// The header value. Header values must be ASCII, so any non-ASCII character (only
    /// possible inside JSON strings) is written as a `\u` escape, which JSON reads back as
    /// the same character.
    pub fn header_value(&self) -> Result<String, serde_json::Error> {
        let json = serde_json::to_string(self)?;
        Ok(ascii_only(&json))
    }
}

fn ascii_only(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }

        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    out
}

/// `Wed, 06 Nov 2024 10:30:00 GMT`. The format has no sub-seconds, so a fractional time is
/// rounded up: a message scheduled "no sooner than t" must not arrive before t.
pub(crate) fn http_date(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    let whole = utc.replace_nanosecond(0).unwrap_or(utc);
    let rounded = if whole == utc { whole } else { whole + Duration::SECOND };
    azure_core::time::to_rfc7231(&rounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn absent_properties_are_omitted() {
        let props = BrokerProperties {
            message_id: "m-1",
            correlation_id: None,
            scheduled_enqueue_time_utc: None,
        };
        assert_eq!(props.header_value().unwrap(), r#"{"MessageId":"m-1"}"#);
    }

    #[test]
    fn all_properties_use_the_documented_names() {
        let props = BrokerProperties {
            message_id: "order-A-1001",
            correlation_id: Some("corr-7"),
            scheduled_enqueue_time_utc: Some(http_date(datetime!(2024-11-06 10:30:00 UTC))),
        };
        let expected = concat!(
            r#"{"MessageId":"order-A-1001","CorrelationId":"corr-7","#,
            r#""ScheduledEnqueueTimeUtc":"Wed, 06 Nov 2024 10:30:00 GMT"}"#
        );
        assert_eq!(props.header_value().unwrap(), expected);
    }

    #[test]
    fn dates_are_converted_to_gmt_and_rounded_up_to_the_second() {
        assert_eq!(
            http_date(datetime!(2024-11-06 11:30:00 +01:00)),
            "Wed, 06 Nov 2024 10:30:00 GMT"
        );
        assert_eq!(
            http_date(datetime!(2024-11-06 10:29:59.001 UTC)),
            "Wed, 06 Nov 2024 10:30:00 GMT"
        );
        assert_eq!(
            http_date(datetime!(2024-12-31 23:59:59.5 UTC)),
            "Wed, 01 Jan 2025 00:00:00 GMT"
        );
    }

    #[test]
    fn non_ascii_ids_are_escaped_and_read_back_unchanged() {
        let props = BrokerProperties {
            message_id: "dépl-😀",
            correlation_id: None,
            scheduled_enqueue_time_utc: None,
        };
        let header = props.header_value().unwrap();
        assert!(header.is_ascii(), "{header}");

        let parsed: serde_json::Value = serde_json::from_str(&header).unwrap();
        assert_eq!(parsed["MessageId"], "dépl-😀");
    }
}

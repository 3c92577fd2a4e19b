//! Lenient timestamp parsing for host metadata.
//!
//! The host writes `DateTime` values without an offset and without fractions
//! (`2023-10-12T20:13:49`), `DateTimeOffset` values with `+00:00`, system values with `Z` and
//! seven fractional digits, and older or batch (cardinality `many`) paths have used other
//! shapes, including the .NET en-US `M/d/yyyy h:mm:ss tt` form (field report B21). Business
//! data lives in the message body, so a timestamp that matches none of them becomes `None`
//! instead of failing the invocation.

use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// ISO 8601 without an offset, as the host writes CLR `DateTime` values; taken as UTC because
/// every such field the Service Bus and timer triggers send is a UTC time.
const ISO_LOCAL: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]");

/// .NET `DateTime.ToString()` under en-US: `12/18/2020 2:01:35 AM`.
const DOTNET_US: &[BorrowedFormatItem<'static>] = format_description!(
    "[month padding:none]/[day padding:none]/[year] \
     [hour repr:12 padding:none]:[minute]:[second] [period case_sensitive:false]"
);

/// .NET `DateTime.ToString()` under the invariant culture: `12/18/2020 02:01:35`.
const DOTNET_INVARIANT: &[BorrowedFormatItem<'static>] = format_description!(
    "[month padding:none]/[day padding:none]/[year] [hour padding:none]:[minute]:[second]"
);

/// RFC 1123 HTTP-date, the form Service Bus uses in `BrokerProperties`.
const HTTP_DATE: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Parses any timestamp shape the host has been seen to send, normalised to UTC.
///
/// Returns `None` for anything else; callers treat a missing time as unknown, never as an
/// error.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim().trim_matches('"').trim();
    if text.is_empty() {
        return None;
    }

    let iso = with_t_separator(text);
    if let Ok(parsed) = OffsetDateTime::parse(&iso, &Rfc3339) {
        return Some(parsed.to_offset(UtcOffset::UTC));
    }

    [ISO_LOCAL, DOTNET_US, DOTNET_INVARIANT, HTTP_DATE]
        .iter()
        .zip([iso.as_str(), text, text, text])
        .find_map(|(format, candidate)| PrimitiveDateTime::parse(candidate, format).ok())
        .map(PrimitiveDateTime::assume_utc)
}

/// Accepts `2023-10-12 20:13:49` by turning the space after the date into the `T` that the
/// ISO parsers require.
fn with_t_separator(text: &str) -> String {
    let bytes = text.as_bytes();
    let looks_iso = bytes.len() > 10 && bytes[4] == b'-' && bytes[7] == b'-';
    if looks_iso && bytes[10] == b' ' {
        format!("{}T{}", &text[..10], &text[11..])
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn host_shapes_parse_to_the_same_instant() {
        let expected = datetime!(2023-10-12 20:13:49 UTC);

        for text in [
            "2023-10-12T20:13:49",
            "2023-10-12T20:13:49Z",
            "2023-10-12T20:13:49+00:00",
            "2023-10-12T22:13:49+02:00",
            "2023-10-12 20:13:49",
            "10/12/2023 8:13:49 PM",
            "10/12/2023 20:13:49",
            "Thu, 12 Oct 2023 20:13:49 GMT",
            " \"2023-10-12T20:13:49\" ",
        ] {
            assert_eq!(parse_timestamp(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn fractional_seconds_are_kept() {
        let parsed = parse_timestamp("2024-11-06T10:15:31.1234567Z").expect("parses");
        assert_eq!(parsed.nanosecond(), 123_456_700);

        let local = parse_timestamp("2021-06-07T14:14:16.2230000").expect("parses");
        assert_eq!(local.millisecond(), 223);
    }

    #[test]
    fn morning_times_in_the_dotnet_form_use_the_period() {
        let parsed = parse_timestamp("12/18/2020 2:01:35 AM").expect("parses");
        assert_eq!(parsed, datetime!(2020-12-18 02:01:35 UTC));

        let noon = parse_timestamp("12/18/2020 12:00:00 pm").expect("parses");
        assert_eq!(noon, datetime!(2020-12-18 12:00:00 UTC));
    }

    #[test]
    fn unknown_shapes_give_none() {
        for text in ["", "yesterday", "2023-13-45T99:00:00", "1697141629", "12/18/2020"] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }
}

//! Undoing the host's layers of JSON encoding.
//!
//! The host serializes every CLR string again before it puts it in `Data` or `Metadata`, so a
//! message body `{"a":1}` arrives as `"\"{\\\"a\\\":1}\""`. Third-party captures and the docs
//! show the single-encoded form too, so both must give the same value (field report B21).

use serde_json::Value;

/// Decodes a value that may be JSON text wrapped in one or more JSON strings.
///
/// A string is replaced by what it parses to while that is an object, an array, or another
/// string (one more layer). Anything else stops the unwrapping: a string that holds a number
/// or plain text stays a string, so `"\"12.5\""` gives `"12.5"`, not `12.5`.
pub fn decode_layers(value: Value) -> Value {
    let mut current = value;
    loop {
        let Value::String(text) = &current else {
            return current;
        };
        match serde_json::from_str::<Value>(text) {
            Ok(inner @ (Value::Object(_) | Value::Array(_) | Value::String(_))) => current = inner,
            _ => return current,
        }
    }
}

/// Reads a metadata value as text: decodes its layers, then accepts a string, a number or a
/// boolean. Objects, arrays and null give `None`.
pub fn metadata_text(value: &Value) -> Option<String> {
    match decode_layers(value.clone()) {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn single_and_double_encoded_objects_decode_to_the_same_value() {
        let single = json!("{\"a\":1}");
        let double = json!("\"{\\\"a\\\":1}\"");

        assert_eq!(decode_layers(single), json!({"a": 1}));
        assert_eq!(decode_layers(double), json!({"a": 1}));
    }

    #[test]
    fn quoted_text_loses_only_its_quotes() {
        assert_eq!(decode_layers(json!("\"hello\"")), json!("hello"));
        assert_eq!(decode_layers(json!("hello")), json!("hello"));
        assert_eq!(decode_layers(json!("\"12.5\"")), json!("12.5"));
    }

    #[test]
    fn non_string_values_pass_through() {
        assert_eq!(decode_layers(json!({"k": "v"})), json!({"k": "v"}));
        assert_eq!(decode_layers(json!(3)), json!(3));
        assert_eq!(decode_layers(Value::Null), Value::Null);
    }

    #[test]
    fn metadata_text_accepts_strings_and_numbers() {
        assert_eq!(metadata_text(&json!("\"abc\"")).as_deref(), Some("abc"));
        assert_eq!(metadata_text(&json!("1")).as_deref(), Some("1"));
        assert_eq!(metadata_text(&json!(4)).as_deref(), Some("4"));
        assert_eq!(metadata_text(&json!({})), None);
    }
}

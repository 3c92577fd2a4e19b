//! Step outputs: values read from a terminal resource body by JSON pointer.

use std::collections::BTreeMap;

use polaris_core::plan::model::OutputSelector;
use serde_json::Value;

/// The outputs found in `body`, and the names of those it lacks.
pub(crate) fn extract(
    body: Option<&Value>,
    selectors: &[OutputSelector],
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();

    for selector in selectors {
        match body.and_then(|b| b.pointer(&selector.pointer)).and_then(as_output) {
            Some(value) => {
                found.insert(selector.name.clone(), value);
            }
            None => missing.push(selector.name.clone()),
        }
    }
    (found, missing)
}

/// Strings as they are; numbers and booleans in JSON form; objects and arrays as JSON text;
/// `null` counts as missing.
fn as_output(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(name: &str, pointer: &str) -> OutputSelector {
        OutputSelector { name: name.into(), pointer: pointer.into() }
    }

    #[test]
    fn outputs_are_read_by_pointer() {
        let body = json!({"id": "/x", "properties": {"ip": {"ip": "10.0.0.4"}, "port": 3000,
            "gone": null}});
        let selectors = [
            sel("id", "/id"),
            sel("ip", "/properties/ip/ip"),
            sel("port", "/properties/port"),
            sel("gone", "/properties/gone"),
            sel("absent", "/properties/nothing"),
        ];
        let (found, missing) = extract(Some(&body), &selectors);
        assert_eq!(found["id"], "/x");
        assert_eq!(found["ip"], "10.0.0.4");
        assert_eq!(found["port"], "3000");
        assert_eq!(missing, vec!["gone", "absent"]);
    }
}

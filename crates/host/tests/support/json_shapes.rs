//! Key paths of JSON documents, for comparing our config files with the fixture shapes.

use std::collections::BTreeSet;

use serde_json::Value;

/// Dotted paths of every object key (`customHandler.description.arguments`); array items are
/// walked but add no path segment.
pub fn key_paths(value: &Value) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    collect(value, "", &mut paths);
    paths
}

fn collect(value: &Value, prefix: &str, paths: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                paths.insert(path.clone());
                collect(child, &path, paths);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, prefix, paths)),
        _ => {}
    }
}

/// Parses JSONC: drops `//` comments outside strings and trailing commas, then parses JSON.
pub fn parse_jsonc(text: &str) -> Value {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                out.extend(chars.next());
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            chars.by_ref().take_while(|&next| next != '\n').for_each(drop);
            out.push('\n');
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    serde_json::from_str(&drop_trailing_commas(&out)).expect("JSONC parses")
}

fn drop_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (index, &c) in chars.iter().enumerate() {
        let next = chars[index + 1..].iter().find(|ch| !ch.is_whitespace());
        if c == ',' && matches!(next, Some('}') | Some(']')) {
            continue;
        }
        out.push(c);
    }
    out
}

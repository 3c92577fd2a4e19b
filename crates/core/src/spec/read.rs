//! Field-by-field reading of a JSON object, collecting every type error.
//!
//! Serde stops at the first error, so a wrong type in one field would hide the problems of
//! all others. The reader looks at one field at a time: a field with the wrong type is
//! recorded and replaced by its default, and reading goes on.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::SpecError;

/// Reads the fields of one JSON object whose path is `prefix` (empty for the top level).
pub(crate) struct Reader<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
    pub(crate) errors: Vec<SpecError>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(obj: &'a Map<String, Value>, prefix: &str) -> Self {
        Self { obj, prefix: prefix.to_owned(), errors: Vec::new() }
    }

    /// The JSON path of a field of this object.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_owned() } else { format!("{}.{key}", self.prefix) }
    }

    /// Reports every key that is not in `known`, with the nearest known key as a hint.
    pub(crate) fn reject_unknown(&mut self, known: &[&str]) {
        let unknown: Vec<String> =
            self.obj.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
        for key in unknown {
            let (message, fix) = match closest(&key, known) {
                Some(near) => (
                    format!("unknown field `{key}`; did you mean `{near}`?"),
                    format!("rename `{key}` to `{near}`"),
                ),
                None => (format!("unknown field `{key}`"), format!("remove `{key}`")),
            };
            let path = self.path(&key);
            self.errors.push(SpecError::new(path, message, fix));
        }
    }

    /// The raw value; JSON `null` counts as absent, like Terraform's null for a variable.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn push(&mut self, key: &str, message: impl Into<String>, fix: impl Into<String>) {
        let path = self.path(key);
        self.errors.push(SpecError::new(path, message, fix));
    }

    fn type_error(&mut self, path: String, expected: &str, found: &Value) {
        let message = format!("expected {expected}, found {}", kind(found));
        let fix = format!("give {expected}");
        self.errors.push(SpecError::new(path, message, fix));
    }

    pub(crate) fn required_string(&mut self, key: &str, example: &str) -> Option<String> {
        match self.raw(key) {
            None => {
                let fix = format!("add `\"{key}\": \"{example}\"`");
                self.push(key, "is required", fix);
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.type_error(self.path(key), "a string", other);
                None
            }
        }
    }

    pub(crate) fn string(&mut self, key: &str, default: &str) -> String {
        self.optional_string(key).unwrap_or_else(|| default.to_owned())
    }

    pub(crate) fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.raw(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.type_error(self.path(key), "a string", other);
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, key: &str, default: bool) -> bool {
        match self.raw(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.type_error(self.path(key), "true or false", other);
                default
            }
        }
    }

    pub(crate) fn number(&mut self, key: &str, default: f64) -> f64 {
        match self.raw(key) {
            None => default,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(default),
            Some(other) => {
                self.type_error(self.path(key), "a number", other);
                default
            }
        }
    }

    /// A whole number in `min..=max`; anything else is reported and gives `default`.
    pub(crate) fn integer(&mut self, key: &str, default: u32, min: u32, max: u32) -> u32 {
        let Some(value) = self.raw(key) else { return default };
        let whole = value.as_u64().and_then(|n| u32::try_from(n).ok());
        match whole {
            Some(n) if (min..=max).contains(&n) => n,
            Some(_) | None if value.is_number() => {
                let message = format!("must be a whole number from {min} to {max}, got {value}");
                self.push(key, message, format!("use a value between {min} and {max}"));
                default
            }
            _ => {
                self.type_error(self.path(key), "a whole number", value);
                default
            }
        }
    }

    /// A TCP port: a whole number in 1..=65535.
    pub(crate) fn port(&mut self, key: &str, default: u16) -> u16 {
        let n = self.integer(key, u32::from(default), 1, 65535);
        u16::try_from(n).unwrap_or(default)
    }

    pub(crate) fn string_list(&mut self, key: &str, default: &[&str]) -> Vec<String> {
        let Some(value) = self.raw(key) else {
            return default.iter().map(|s| (*s).to_owned()).collect();
        };
        let Value::Array(items) = value else {
            self.type_error(self.path(key), "a list of strings", value);
            return default.iter().map(|s| (*s).to_owned()).collect();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => self.type_error(format!("{}[{i}]", self.path(key)), "a string", other),
            }
        }
        out
    }

    pub(crate) fn string_map(&mut self, key: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(value) = self.raw(key) else { return out };
        let Value::Object(map) = value else {
            self.type_error(self.path(key), "an object of strings", value);
            return out;
        };
        for (k, v) in map {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                other => self.type_error(format!("{}.{k}", self.path(key)), "a string", other),
            }
        }
        out
    }

    pub(crate) fn object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.raw(key) {
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(other) => {
                self.type_error(self.path(key), "an object", other);
                None
            }
        }
    }
}

/// How a JSON value's type is named in messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The candidate nearest to `input`: by edit distance when near enough to be a typo, else
/// the first candidate holding every `_`-separated word of the input (`ssh_key` ->
/// `ssh_public_key`).
pub(crate) fn closest<'c>(input: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (input.chars().count() / 3).max(2);
    let typo = candidates
        .iter()
        .map(|c| (edit_distance(input, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);

    let words: Vec<&str> = input.split('_').filter(|w| !w.is_empty()).collect();
    let has_all_words = |c: &&&str| {
        let theirs: Vec<&str> = c.split('_').collect();
        words.len() > 1 && words.iter().all(|w| theirs.contains(w))
    };
    typo.or_else(|| candidates.iter().find(has_all_words).copied())
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn closest_ignores_far_candidates() {
        assert_eq!(closest("workload_prot", &["workload_port", "name"]), Some("workload_port"));
        assert_eq!(closest("zzzzzz", &["workload_port", "name"]), None);
        assert_eq!(closest("ssh_key", &["zone", "ssh_public_key"]), Some("ssh_public_key"));
    }
}

//! `${secret:<key>}` placeholders: resolved from the secret store right before a request
//! leaves the process, and scrubbed from anything we report afterwards.
//!
//! Plans and saga state only ever hold the placeholder. The resolved body lives in memory
//! for one request; it is never logged, and every resolved value is remembered by a
//! [`Redactor`] so that an Azure error message echoing it cannot carry it into saga history.

use std::collections::{BTreeMap, BTreeSet};

use polaris_core::action::{FailureClass, StepFailure};
use polaris_core::ports::{SecretError, SecretStore};
use serde_json::Value;

const OPEN: &str = "${secret:";
const REDACTED: &str = "[REDACTED]";

/// Replaces known secret values in text.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    values: Vec<String>,
}

impl Redactor {
    pub fn remember(&mut self, value: &str) {
        if !value.is_empty() && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_owned());
            // Longest first, so a secret containing another is replaced whole.
            self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        self.values.iter().fold(text.to_owned(), |acc, secret| acc.replace(secret, REDACTED))
    }
}

/// Returns `body` with every secret placeholder replaced by its value.
pub(crate) async fn resolve(
    store: &dyn SecretStore,
    deployment: &str,
    body: &Value,
    redactor: &mut Redactor,
) -> Result<Value, StepFailure> {
    let mut keys = BTreeSet::new();
    collect(body, &mut keys);
    if keys.is_empty() {
        return Ok(body.clone());
    }

    let mut values = BTreeMap::new();
    for key in keys {
        let value = store.get(deployment, &key).await.map_err(secret_failure)?;
        redactor.remember(&value);
        values.insert(key, value);
    }

    let mut resolved = body.clone();
    substitute(&mut resolved, &values);
    Ok(resolved)
}

fn collect(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => keys.extend(placeholders(text)),
        Value::Array(items) => items.iter().for_each(|v| collect(v, keys)),
        Value::Object(map) => map.values().for_each(|v| collect(v, keys)),
        _ => {}
    }
}

fn substitute(value: &mut Value, values: &BTreeMap<String, String>) {
    match value {
        Value::String(text) if text.contains(OPEN) => {
            for (key, secret) in values {
                *text = text.replace(&format!("{OPEN}{key}}}"), secret);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, values)),
        _ => {}
    }
}

/// The keys of the placeholders in `text`.
fn placeholders(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else { break };
        keys.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    keys
}

fn secret_failure(err: SecretError) -> StepFailure {
    match err {
        SecretError::Missing { .. } => {
            StepFailure::new(FailureClass::Permanent, "SecretMissing", err.to_string())
        }
        SecretError::Unavailable { .. } => {
            StepFailure::new(FailureClass::Transient, "SecretStoreUnavailable", err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_found_inside_longer_strings() {
        assert_eq!(placeholders("a ${secret:x} b ${secret:y-z}"), vec!["x", "y-z"]);
        assert!(placeholders("echo ${HOME}").is_empty());
    }

    #[test]
    fn substitution_reaches_nested_values_and_leaves_others() {
        let mut body = json!({"p": {"list": [{"secureValue": "${secret:pw}"}], "cmd": "${HOME}"}});
        let values = BTreeMap::from([("pw".to_owned(), "hunter2".to_owned())]);
        substitute(&mut body, &values);
        assert_eq!(body, json!({"p": {"list": [{"secureValue": "hunter2"}], "cmd": "${HOME}"}}));
    }

    #[test]
    fn redactor_scrubs_every_occurrence() {
        let mut redactor = Redactor::default();
        redactor.remember("hunter2");
        redactor.remember("");
        assert_eq!(
            redactor.redact("bad value 'hunter2' (hunter2)"),
            "bad value '[REDACTED]' ([REDACTED])"
        );
    }
}

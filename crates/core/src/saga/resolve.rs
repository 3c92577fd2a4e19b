//! `${step.output}` placeholders: values only known once an earlier step has run (the
//! identity's principal id, the container group's IP).

use serde_json::Value;

use crate::ids::StepName;

use super::error::SagaError;
use super::state::SagaState;

/// Replaces `${<step>.<output>}` in every string of `value` with recorded step outputs.
/// `${secret:<key>}` is left alone: secrets are resolved by the executor at send time so they
/// never pass through saga state.
pub fn resolve_placeholders(value: &Value, state: &SagaState) -> Result<Value, SagaError> {
    match value {
        Value::String(s) => resolve_str(s, state).map(Value::String),
        Value::Array(items) => {
            items.iter().map(|v| resolve_placeholders(v, state)).collect::<Result<_, _>>()
        }
        Value::Object(map) => {
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, v) in map {
                out.insert(resolve_str(k, state)?, resolve_placeholders(v, state)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

pub(crate) fn resolve_str(s: &str, state: &SagaState) -> Result<String, SagaError> {
    if !s.contains("${") {
        return Ok(s.to_owned());
    }

    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let token = &after[..end];
        if token.starts_with("secret:") {
            out.push_str(&rest[start..start + 2 + end + 1]);
        } else {
            out.push_str(&lookup(token, state)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(token: &str, state: &SagaState) -> Result<String, SagaError> {
    let unresolved = |step: &str| SagaError::UnresolvedPlaceholder {
        step: StepName::new(step),
        placeholder: format!("${{{token}}}"),
    };
    let (step, output) = token.split_once('.').ok_or_else(|| unresolved(token))?;
    state
        .steps
        .get(&StepName::new(step))
        .and_then(|s| s.outputs.get(output))
        .cloned()
        .ok_or_else(|| unresolved(step))
}

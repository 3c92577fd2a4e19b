//! Validation problems, all reported at once.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One problem with one field of a spec.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecError {
    /// JSON path of the offending value: `workload_env_vars.API_KEY`, `vnet_address_space[0]`.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to change so the spec passes.
    pub fix: String,
}

impl SpecError {
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self { field: field.into(), message: message.into(), fix: fix.into() }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}; fix: {}", self.field, self.message, self.fix)
    }
}

/// Every problem found in a spec, in the order the fields were checked. Never empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl SpecErrors {
    pub fn iter(&self) -> impl Iterator<Item = &SpecError> {
        self.0.iter()
    }

    /// The problems reported for exactly this field path.
    pub fn for_field<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a SpecError> {
        self.0.iter().filter(move |e| e.field == field)
    }

    pub fn has_field(&self, field: &str) -> bool {
        self.for_field(field).next().is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "the deployment spec has {count} {noun}:")?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_fix() {
        let errors = SpecErrors(vec![
            SpecError::new("workload_port", "must be 1-65535", "use a port such as 8000"),
            SpecError::new("name", "is required", "add `name`"),
        ]);
        let text = errors.to_string();
        assert!(text.starts_with("the deployment spec has 2 problems:"));
        assert!(text.contains("`workload_port`: must be 1-65535; fix: use a port such as 8000"));
        assert!(text.contains("`name`: is required; fix: add `name`"));
    }
}

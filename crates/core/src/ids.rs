//! Identifiers shared by every layer.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string cannot be used as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("deployment id `{0}` must be 3-63 characters of a-z, 0-9 and '-'")]
    BadDeploymentId(String),
}

/// Identifies one deployment for its whole life: state blob name, ownership tag value,
/// message ids and log spans all carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeploymentId(String);

impl DeploymentId {
    /// Accepts lower-case ASCII letters, digits and dashes, because the id ends up in blob
    /// names, Service Bus message ids and Azure tag values.
    pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
        let value = value.into();
        let ok_len = (3..=63).contains(&value.len());
        let ok_chars =
            value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok_len && ok_chars && !value.starts_with('-') && !value.ends_with('-') {
            Ok(Self(value))
        } else {
            Err(IdError::BadDeploymentId(value))
        }
    }

    /// Builds `<name prefix>-<8 hex digits>` from a sanitized name and caller-supplied entropy,
    /// so the id stays readable while two deployments of one spec never share an id.
    pub fn from_name(sanitized_name: &str, entropy: u32) -> Self {
        let prefix: String = sanitized_name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .take(40)
            .collect();
        let prefix = prefix.trim_matches('-');
        let prefix = if prefix.is_empty() { "deployment" } else { prefix };
        Self(format!("{prefix}-{entropy:08x}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeploymentId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<DeploymentId> for String {
    fn from(id: DeploymentId) -> Self {
        id.0
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names one step of a plan (`resource_group`, `vnet`, `container_group`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepName(String);

impl StepName {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for StepName {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_id_rules() {
        assert!(DeploymentId::new("polaris-example-0a1b2c3d").is_ok());
        assert!(DeploymentId::new("Upper").is_err());
        assert!(DeploymentId::new("ab").is_err());
        assert!(DeploymentId::new("-lead").is_err());
        assert!(DeploymentId::new("has space").is_err());
    }

    #[test]
    fn from_name_is_readable_and_valid() {
        let id = DeploymentId::from_name("Polaris Example", 0xdead_beef);
        assert_eq!(id.as_str(), "polaris-example-deadbeef");
        assert!(DeploymentId::new(id.as_str()).is_ok());
        assert_eq!(DeploymentId::from_name("!!!", 1).as_str(), "deployment-00000001");
    }
}

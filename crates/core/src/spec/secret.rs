//! A value that must never reach logs, saga state or API answers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a redacted secret serializes to, and what deserializes back into a redacted secret.
pub const REDACTED: &str = "<redacted>";

/// A secret string (registry password, secure env value).
///
/// `Debug`, `Display` and `Serialize` never show the value, so a spec can be logged or stored
/// in saga state as is; the value itself goes to the secret store under the key that
/// [`crate::spec::DeploymentSpec::secrets`] names. Deserializing the marker yields a
/// *redacted* secret: known to exist, value held elsewhere.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Inner);

#[derive(Clone, PartialEq, Eq, Default)]
enum Inner {
    /// No value was given (the module's `""` default).
    #[default]
    Empty,
    Value(String),
    Redacted,
}

impl Secret {
    /// Wraps a value; an empty string is the same as no secret.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        if value.is_empty() { Self(Inner::Empty) } else { Self(Inner::Value(value)) }
    }

    /// A secret whose value lives in the secret store.
    pub fn redacted() -> Self {
        Self(Inner::Redacted)
    }

    /// The value, when this process holds it; `None` for empty and redacted secrets.
    pub fn expose(&self) -> Option<&str> {
        match &self.0 {
            Inner::Value(v) => Some(v),
            Inner::Empty | Inner::Redacted => None,
        }
    }

    /// True when a value exists, here or in the secret store.
    pub fn is_set(&self) -> bool {
        !matches!(self.0, Inner::Empty)
    }

    pub fn is_redacted(&self) -> bool {
        matches!(self.0, Inner::Redacted)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// An empty secret stays `""` (there is nothing to hide, and the all-or-none registry check
/// must still see it as absent after a round trip); anything else becomes the marker.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Inner::Empty => serializer.serialize_str(""),
            Inner::Value(_) | Inner::Redacted => serializer.serialize_str(REDACTED),
        }
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Ok(Self::from_input(value))
    }
}

impl Secret {
    /// Reads user input or stored state: the marker means "held elsewhere".
    pub(crate) fn from_input(value: String) -> Self {
        if value == REDACTED { Self::redacted() } else { Self::new(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_or_serializes_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"<redacted>\"");
        assert_eq!(secret.expose(), Some("hunter2"));
    }

    #[test]
    fn marker_round_trips_to_a_redacted_secret() {
        let back: Secret = serde_json::from_str("\"<redacted>\"").unwrap();
        assert!(back.is_redacted());
        assert!(back.is_set());
        assert_eq!(back.expose(), None);
    }

    #[test]
    fn empty_stays_empty() {
        let empty = Secret::new("");
        assert!(!empty.is_set());
        assert_eq!(serde_json::to_string(&empty).unwrap(), "\"\"");
        let back: Secret = serde_json::from_str("\"\"").unwrap();
        assert!(!back.is_set());
    }
}

//! Workload environment values: plain strings, or secure values ACI hides from GETs.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::Secret;

/// One value of `workload_env_vars`.
///
/// JSON: `"value"` for a plain variable, `{"value": "...", "secret": true}` for a secure one.
/// A secure value becomes ACI's `secureValue` with a `${secret:env:<NAME>}` placeholder, so
/// it never appears in plans, state or logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvValue {
    Plain(String),
    Secure(Secret),
}

impl Serialize for EnvValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(value) => serializer.serialize_str(value),
            Self::Secure(secret) => {
                Wire::Object { value: secret.clone(), secret: true }.serialize(serializer)
            }
        }
    }
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Wire::deserialize(deserializer)? {
            Wire::Plain(value) => Ok(Self::Plain(value)),
            Wire::Object { value, secret: true } => Ok(Self::Secure(value)),
            Wire::Object { value, secret: false } => match value.expose() {
                Some(plain) => Ok(Self::Plain(plain.to_owned())),
                None if !value.is_set() => Ok(Self::Plain(String::new())),
                None => Err(D::Error::custom("a redacted value must be marked secret")),
            },
        }
    }
}

/// The two JSON shapes.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Wire {
    Plain(String),
    Object {
        value: Secret,
        #[serde(default)]
        secret: bool,
    },
}

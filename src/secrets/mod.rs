//! Embedded secret stores: deployment secrets kept apart from saga state, so state files,
//! logs and API answers never contain them.
//!
//! Neither store logs, formats or returns a value anywhere but from `get`; their `Debug`
//! output shows counts only.

mod local;
mod memory;

pub use local::LocalSecretStore;
pub use memory::MemorySecretStore;

use polaris_core::ports::SecretError;

/// Checks that `deployment` can name a file: the same segment rules as state keys.
fn validate_deployment(deployment: &str) -> Result<(), SecretError> {
    crate::store::key::validate_segment(deployment).map_err(|reason| SecretError::Unavailable {
        message: format!("invalid deployment `{deployment}`: {reason}"),
    })
}

fn missing(deployment: &str, key: &str) -> SecretError {
    SecretError::Missing { deployment: deployment.to_owned(), key: key.to_owned() }
}

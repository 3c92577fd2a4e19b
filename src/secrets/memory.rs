//! Secrets in memory, for tests and benchmarks.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use polaris_core::ports::{SecretError, SecretStore};

use super::{missing, validate_deployment};

/// Deployment id -> secret name -> value.
type Vault = HashMap<String, BTreeMap<String, String>>;

/// Holds secrets in a map, with the same id rules as [`LocalSecretStore`].
///
/// [`LocalSecretStore`]: super::LocalSecretStore
#[derive(Default)]
pub struct MemorySecretStore {
    vault: Mutex<Vault>,
}

impl MemorySecretStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of deployments that hold at least one secret (teardown tests check for 0).
    pub fn deployments(&self) -> usize {
        self.vault().len()
    }

    fn vault(&self) -> MutexGuard<'_, Vault> {
        self.vault.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemorySecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySecretStore").field("deployments", &self.deployments()).finish()
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn put(&self, deployment: &str, key: &str, value: &str) -> Result<(), SecretError> {
        validate_deployment(deployment)?;

        let mut vault = self.vault();
        vault.entry(deployment.to_owned()).or_default().insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    async fn get(&self, deployment: &str, key: &str) -> Result<String, SecretError> {
        validate_deployment(deployment)?;

        let vault = self.vault();
        let value = vault.get(deployment).and_then(|secrets| secrets.get(key));
        value.cloned().ok_or_else(|| missing(deployment, key))
    }

    async fn delete_all(&self, deployment: &str) -> Result<(), SecretError> {
        validate_deployment(deployment)?;

        self.vault().remove(deployment);
        Ok(())
    }
}

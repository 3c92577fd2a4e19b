//! One place that wires credential, transport, clients and executor, for Azure or for the
//! simulator. Everything else in the process should receive the built [`ArmExecutor`].

use std::sync::Arc;

use azure_core::http::Url;
use polaris_core::ports::SecretStore;

use crate::arm::ArmClient;
use crate::credential::{CredentialConfig, CredentialError};
use crate::exec::{ArmExecutor, ExecutorConfig};
use crate::keyvault::{KeyVaultClient, VaultUrlResolver};
use crate::rest::ClientSettings;
use crate::retry::RetryPolicy;
use crate::transport::{TransportConfig, TransportError};

/// Public-cloud Resource Manager.
pub const ARM_PUBLIC_ENDPOINT: &str = "https://management.azure.com/";

/// Everything needed to build an executor.
#[derive(Clone, Debug)]
pub struct AzureSetup {
    pub arm_endpoint: Url,
    pub credential: CredentialConfig,
    pub transport: TransportConfig,
    pub vault_urls: VaultUrlResolver,
    pub retry: RetryPolicy,
    pub executor: ExecutorConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot create the credential")]
    Credential(#[from] CredentialError),
    #[error("cannot create the HTTP transport")]
    Transport(#[from] TransportError),
}

impl AzureSetup {
    /// Real Azure (public cloud) with the given credential, which must be chosen explicitly:
    /// there is no probing chain.
    pub fn azure(credential: CredentialConfig) -> Self {
        Self {
            arm_endpoint: Url::parse(ARM_PUBLIC_ENDPOINT).expect("constant URL parses"),
            credential,
            transport: TransportConfig::default(),
            vault_urls: VaultUrlResolver::azure_public(),
            retry: RetryPolicy::default(),
            executor: ExecutorConfig::default(),
        }
    }

    /// The simulator at `arm_endpoint` (e.g. `https://127.0.0.1:8443`), trusting only its CA,
    /// with the local token. Vault data planes are at `{arm_endpoint}/kv/{name}/`, which is
    /// where `polaris-sim` serves them.
    pub fn simulator(arm_endpoint: Url, ca_pem: impl Into<Vec<u8>>) -> Self {
        let base = arm_endpoint.as_str().trim_end_matches('/').to_owned();
        let vault_urls =
            VaultUrlResolver::new(move |name| Url::parse(&format!("{base}/kv/{name}/")));
        Self {
            arm_endpoint,
            credential: CredentialConfig::Local,
            transport: TransportConfig::with_root_ca(ca_pem),
            vault_urls,
            retry: RetryPolicy::default(),
            executor: ExecutorConfig::default(),
        }
    }

    /// Builds the clients and the executor. Only a `ManagedIdentity` or `DeveloperTools`
    /// credential touches `azure_identity`; nothing here makes a request.
    pub fn build(&self, secrets: Arc<dyn SecretStore>) -> Result<ArmExecutor, SetupError> {
        let credential = self.credential.build()?;
        let settings = ClientSettings::new(&self.transport)?.with_retry(self.retry.clone());

        let arm = ArmClient::new(self.arm_endpoint.clone(), Arc::clone(&credential), &settings);
        let keyvault = KeyVaultClient::new(credential, self.vault_urls.clone(), &settings);
        Ok(ArmExecutor::new(arm, keyvault, secrets, self.executor.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_setup_maps_vaults_under_the_endpoint() {
        let setup = AzureSetup::simulator(
            Url::parse("https://127.0.0.1:8443").expect("url"),
            b"".to_vec(),
        );
        let url = setup.vault_urls.resolve("kv-a").expect("url");
        assert_eq!(url.as_str(), "https://127.0.0.1:8443/kv/kv-a/");
        assert_eq!(setup.credential, CredentialConfig::Local);
    }

    #[test]
    fn azure_setup_uses_public_endpoints() {
        let setup = AzureSetup::azure(CredentialConfig::ManagedIdentity { client_id: None });
        assert_eq!(setup.arm_endpoint.as_str(), ARM_PUBLIC_ENDPOINT);
        let url = setup.vault_urls.resolve("kv-a").expect("url");
        assert_eq!(url.as_str(), "https://kv-a.vault.azure.net/");
    }
}

//! Builds the Azure executor: the same clients against Azure and against the simulator; only
//! the endpoint, trusted CA and credential differ.

use std::sync::Arc;

use async_trait::async_trait;
use polaris_azure::exec::{ArmExecutor, ExecutorConfig};
use polaris_azure::{
    ArmClient, ClientSettings, CredentialConfig, KeyVaultClient, RetryPolicy, TransportConfig,
    VaultUrlResolver,
};
use polaris_core::action::{Action, ExecContext, Outcome};
use polaris_core::ports::{Executor, SecretStore};
use url::Url;

use super::embedded::RuntimeError;

/// The executor as the worker sees it.
pub struct AzureExecutor(pub ArmExecutor);

#[async_trait]
impl Executor for AzureExecutor {
    async fn execute(&self, action: &Action, ctx: &ExecContext) -> Outcome {
        let executor = self.0.clone();
        let (action, ctx) = (action.clone(), ctx.clone());
        // Owned values keep the future `Send` for any caller lifetime.
        match tokio::spawn(async move { executor.execute(&action, &ctx).await }).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(polaris_core::action::StepFailure::new(
                polaris_core::action::FailureClass::UnknownOutcome,
                "ExecutorPanicked",
                format!("the executor task ended abnormally: {e}"),
            )),
        }
    }
}

/// Where and how to reach Azure.
#[derive(Clone, Debug)]
pub struct AzureSettings {
    /// `https://management.azure.com` or the simulator's loopback endpoint.
    pub arm_endpoint: String,
    /// Maps a vault name to its data-plane URL; `None` means `https://{name}.vault.azure.net/`.
    pub keyvault_base: Option<String>,
    /// PEM of a CA to trust instead of the platform roots (the simulator's).
    pub root_ca_pem: Option<String>,
    pub credential: CredentialConfig,
    /// Retries inside one invocation. The simulation harness turns them off so every wait
    /// goes through a scheduled continuation in virtual time.
    pub retry: RetryPolicy,
}

pub fn build_azure_executor(
    settings: &AzureSettings,
    secrets: Arc<dyn SecretStore>,
) -> Result<AzureExecutor, RuntimeError> {
    let transport = TransportConfig {
        root_ca_pem: settings.root_ca_pem.as_ref().map(|p| p.as_bytes().to_vec()),
        ..TransportConfig::default()
    };
    let client_settings = ClientSettings::new(&transport)
        .map_err(|e| RuntimeError::Setup(format!("HTTP transport: {e}")))?
        .with_retry(settings.retry.clone());
    let credential =
        settings.credential.build().map_err(|e| RuntimeError::Setup(format!("credential: {e}")))?;

    let endpoint = Url::parse(&settings.arm_endpoint).map_err(|e| {
        RuntimeError::Setup(format!("ARM endpoint `{}`: {e}", settings.arm_endpoint))
    })?;
    let arm = ArmClient::new(endpoint, credential.clone(), &client_settings);

    let resolver = match settings.keyvault_base.clone() {
        Some(base) => VaultUrlResolver::new(move |name| Url::parse(&format!("{base}/kv/{name}/"))),
        None => VaultUrlResolver::azure_public(),
    };
    let keyvault = KeyVaultClient::new(credential, resolver, &client_settings);
    let executor = ArmExecutor::new(arm, keyvault, secrets, ExecutorConfig::default());
    Ok(AzureExecutor(executor))
}

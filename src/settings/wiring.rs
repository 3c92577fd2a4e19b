//! Builds the production app from [`Settings`]: one credential, one transport, and the
//! clients on it. Nothing here sends a request except `ensure_container`.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use polaris_azure::{AzureSetup, CredentialConfig, TransportConfig, VaultUrlResolver};
use polaris_blobstore::BlobStateStore;
use polaris_core::saga::SagaConfig;
use polaris_servicebus::{ServiceBusSender, ServiceBusSenderOptions};

use super::keyvault_secrets::KeyVaultSecretStore;
use super::{SenderSettings, Settings};
use crate::app::App;
use crate::clock::SystemClock;
use crate::rotation::Rotation;
use crate::runtime::AzureExecutor;
use crate::worker::{Worker, WorkerMetrics};

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("credential: {0}")]
    Credential(String),
    #[error("HTTP transport (check POLARIS_EXTRA_CA_PEM): {0}")]
    Transport(String),
    #[error("state store at POLARIS_STATE_ACCOUNT_URL: {0}")]
    Store(String),
    #[error("Service Bus sender at POLARIS_SERVICEBUS_ENDPOINT: {0}")]
    Sender(String),
    #[error("Azure executor: {0}")]
    Executor(String),
}

fn transport(extra_ca_pem: Option<&String>) -> TransportConfig {
    TransportConfig {
        root_ca_pem: extra_ca_pem.map(|p| p.as_bytes().to_vec()),
        ..TransportConfig::default()
    }
}

/// Client options for the SDK pipelines: our transport and short, bounded retries, so an
/// invocation never spends its budget on one unreachable endpoint.
fn client_options(extra_ca_pem: Option<&String>) -> Result<ClientOptions, WiringError> {
    let transport =
        transport(extra_ca_pem).transport().map_err(|e| WiringError::Transport(e.to_string()))?;
    let retry = ExponentialRetryOptions {
        initial_delay: time::Duration::milliseconds(200),
        max_retries: 3,
        max_total_elapsed: time::Duration::seconds(20),
        max_delay: time::Duration::seconds(5),
    };
    Ok(ClientOptions {
        transport: Some(transport),
        retry: RetryOptions::exponential(retry),
        ..Default::default()
    })
}

fn credential(config: &CredentialConfig) -> Result<Arc<dyn TokenCredential>, WiringError> {
    config.build().map_err(|e| WiringError::Credential(e.to_string()))
}

/// The Service Bus sender alone (for `polaris enqueue`).
pub fn build_sender(settings: &SenderSettings) -> Result<ServiceBusSender, WiringError> {
    let client = client_options(settings.extra_ca_pem.as_ref())?;
    let options = ServiceBusSenderOptions { client, ..Default::default() };
    ServiceBusSender::new(
        settings.endpoint.clone(),
        &settings.queue_name,
        credential(&settings.credential)?,
        options,
    )
    .map_err(|e| WiringError::Sender(e.to_string()))
}

/// The production app and what the handler needs beside it.
pub struct Wired {
    pub app: Arc<App>,
    pub store: Arc<BlobStateStore>,
    pub rotation: Rotation,
}

/// Builds store, sender, secrets and executor, and creates the state container if missing.
pub async fn build_app(settings: &Settings) -> Result<Arc<App>, WiringError> {
    let wired = wire(settings)?;
    wired.store.ensure_container().await.map_err(|e| WiringError::Store(e.to_string()))?;
    Ok(wired.app)
}

/// Builds every client without sending a request, so `polaris serve` can do it between
/// binding its port and answering the first probe.
pub fn wire(settings: &Settings) -> Result<Wired, WiringError> {
    let credential = credential(&settings.credential)?;
    let options = client_options(settings.extra_ca_pem.as_ref())?;

    let store = BlobStateStore::new(
        settings.state_account_url.clone(),
        &settings.state_container,
        credential.clone(),
        options.clone(),
    )
    .map_err(|e| WiringError::Store(e.to_string()))?;
    let store = Arc::new(store);

    let sender = build_sender(&settings.sender_settings())?;
    let vault = settings.secrets_vault_url.clone();
    let secrets = KeyVaultSecretStore::new(vault, credential, options);
    let secrets = Arc::new(secrets);

    let setup = AzureSetup {
        arm_endpoint: settings.arm_endpoint.clone(),
        transport: transport(settings.extra_ca_pem.as_ref()),
        vault_urls: vault_urls(settings),
        ..AzureSetup::azure(settings.credential.clone())
    };
    let executor =
        setup.build(secrets.clone()).map_err(|e| WiringError::Executor(e.to_string()))?;
    let rotation =
        Rotation::from_setup(&setup).map_err(|e| WiringError::Executor(e.to_string()))?;

    let worker = Arc::new(Worker {
        store: store.clone(),
        secrets,
        sender: Arc::new(sender),
        executor: Arc::new(AzureExecutor(executor)),
        clock: Arc::new(SystemClock),
        saga: SagaConfig::default(),
        lease_secs: 60,
        action_timeout: settings.action_timeout,
        metrics: Arc::new(WorkerMetrics::default()),
        crash: None,
    });
    let app = Arc::new(App::new(worker, settings.tenant_id.clone()));
    Ok(Wired { app, store, rotation })
}

/// Public-cloud vault names, unless ARM is a loopback simulator, which serves vault data
/// planes under its own endpoint.
fn vault_urls(settings: &Settings) -> VaultUrlResolver {
    let loopback = matches!(
        settings.arm_endpoint.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || settings.arm_endpoint.host_str() == Some("localhost");
    if !loopback {
        return VaultUrlResolver::azure_public();
    }
    let base = settings.arm_endpoint.as_str().trim_end_matches('/').to_owned();
    VaultUrlResolver::new(move |name| url::Url::parse(&format!("{base}/kv/{name}/")))
}

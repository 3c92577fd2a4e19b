//! App settings of the Function App (see `local.settings.json.example`), and the
//! production wiring they describe: Blob state, Service Bus sender, ARM executor, Key Vault
//! secrets.
//!
//! Reading settings is pure (no I/O, no credential), so `polaris serve` can bind its port
//! first and report a bad setting without touching Azure. A missing or invalid setting is an
//! error naming the setting and the fix. The managed-identity credential is only ever built
//! when `POLARIS_CREDENTIAL` says so.

mod keyvault_secrets;
mod parse;
mod wiring;

use std::time::Duration;

use polaris_azure::CredentialConfig;
use url::Url;

use crate::sweeper::SweeperConfig;

pub use keyvault_secrets::KeyVaultSecretStore;
pub use parse::{Lookup, env_lookup};
pub use wiring::{Wired, WiringError, build_app, build_sender, wire};

/// The port the host passes to the handler.
pub const PORT_SETTING: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("app setting {name} is missing: {fix}")]
    Missing { name: &'static str, fix: &'static str },
    #[error("app setting {name} is invalid (`{value}`): {fix}")]
    Invalid { name: &'static str, value: String, fix: String },
}

/// Where the orchestrator's own state, queue and secrets live, and how to authenticate.
#[derive(Clone, Debug)]
pub struct Settings {
    pub arm_endpoint: Url,
    /// `https://<account>.blob.core.windows.net`, no trailing slash.
    pub state_account_url: Url,
    pub state_container: String,
    /// `https://<namespace>.servicebus.windows.net`.
    pub servicebus_endpoint: Url,
    pub queue_name: String,
    pub tenant_id: String,
    pub credential: CredentialConfig,
    /// The orchestrator's own vault for deployment secrets.
    pub secrets_vault_url: Url,
    /// PEM trusted *instead of* the platform roots, for loopback test endpoints.
    pub extra_ca_pem: Option<String>,
    /// Bound on one SagaWorker invocation; the host's timeout must be longer.
    pub invocation_budget: Duration,
    /// Bound on one Azure action inside a step; past it the step observes again later.
    pub action_timeout: Duration,
    pub sweeper: SweeperConfig,
}

/// The queue a sender writes to.
#[derive(Clone, Debug)]
pub struct SenderSettings {
    pub endpoint: Url,
    pub queue_name: String,
    pub credential: CredentialConfig,
    pub extra_ca_pem: Option<String>,
}

impl SenderSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        parse::sender_settings(&env_lookup)
    }
}

impl Settings {
    pub fn sender_settings(&self) -> SenderSettings {
        SenderSettings {
            endpoint: self.servicebus_endpoint.clone(),
            queue_name: self.queue_name.clone(),
            credential: self.credential.clone(),
            extra_ca_pem: self.extra_ca_pem.clone(),
        }
    }

    /// Reads the process environment (the Function App's app settings).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(&env_lookup)
    }

    /// Reads settings through `lookup`, so tests need not touch the environment.
    pub fn from_lookup(lookup: &Lookup<'_>) -> Result<Self, SettingsError> {
        parse::settings(lookup)
    }
}

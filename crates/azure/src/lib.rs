//! Adapters to Azure: credentials, the ARM client, the Key Vault data-plane client, and the
//! executor that performs the core's [`Action`](polaris_core::Action)s against them.
//!
//! The same code serves real Azure and the simulator (HTTPS on loopback); only the endpoint
//! URLs, the trusted root CA and the credential differ. Requests go through `azure_core`'s
//! pipeline with its retries switched off: this crate retries itself ([`retry`]), honouring
//! `Retry-After` within a wait budget measured on an injectable [`Clock`].
//!
//! # Wiring
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn demo(secrets: Arc<dyn polaris_core::ports::SecretStore>, ca_pem: String)
//! # -> Result<(), polaris_azure::SetupError> {
//! use polaris_azure::{AzureSetup, CredentialConfig};
//!
//! // Against the simulator: its endpoint and CA, the local token.
//! let endpoint = url::Url::parse("https://127.0.0.1:8443").expect("url");
//! let local = AzureSetup::simulator(endpoint, ca_pem).build(secrets.clone())?;
//!
//! // Against Azure: the Function App's user-assigned identity.
//! let identity = CredentialConfig::ManagedIdentity { client_id: Some("<client id>".into()) };
//! let azure = AzureSetup::azure(identity).build(secrets)?;
//! # drop((local, azure));
//! # Ok(())
//! # }
//! ```

pub mod arm;
pub mod clock;
pub mod credential;
pub mod error;
pub mod exec;
pub mod keyvault;
pub mod response;
pub mod retry;
pub mod setup;
pub mod transport;

mod rest;

pub use arm::{ARM_PUBLIC_SCOPE, ArmClient};
pub use clock::{Clock, TokioClock, VirtualClock};
pub use credential::{CredentialConfig, CredentialError, LocalTokenCredential};
pub use error::{ArmError, ErrorDetail, ServiceError, TransportFailure};
pub use exec::{ArmExecutor, ExecutorConfig, FailureFacts, classify, release_policy_matches};
pub use keyvault::{KEY_VAULT_API_VERSION, KeyVaultClient, VaultKeys, VaultUrlResolver};
pub use response::ArmResponse;
pub use rest::ClientSettings;
pub use retry::{RetryPolicy, WaitBudget};
pub use setup::{ARM_PUBLIC_ENDPOINT, AzureSetup, SetupError};
pub use transport::{TransportConfig, TransportError};

//! Adapters to Azure: credentials, the ARM client, the Key Vault data-plane client, and the
//! executor that performs the core's [`Action`](polaris_core::Action)s against them.
//!
//! The same code serves real Azure and the simulator (HTTPS on loopback); only the endpoint
//! URLs, the trusted root CA and the credential differ. Requests go through `azure_core`'s
//! pipeline with its retries switched off: this crate retries itself ([`retry`]), honouring
//! `Retry-After` within a wait budget measured on an injectable [`Clock`].

pub mod arm;
pub mod clock;
pub mod credential;
pub mod error;
pub mod keyvault;
pub mod response;
pub mod retry;
pub mod transport;

mod rest;

pub use arm::{ARM_PUBLIC_SCOPE, ArmClient};
pub use clock::{Clock, TokioClock, VirtualClock};
pub use credential::{CredentialConfig, CredentialError, LocalTokenCredential};
pub use error::{ArmError, ErrorDetail, ServiceError, TransportFailure};
pub use keyvault::{KEY_VAULT_API_VERSION, KeyVaultClient, VaultKeys, VaultUrlResolver};
pub use response::ArmResponse;
pub use rest::ClientSettings;
pub use retry::{RetryPolicy, WaitBudget};
pub use transport::{TransportConfig, TransportError};
pub mod exec;

pub use exec::{ArmExecutor, ExecutorConfig};

//! A simulated Azure for testing the Polaris orchestrator without a subscription.
//!
//! The simulator speaks the real wire protocols over HTTPS on loopback:
//!
//! * **ARM**: resource groups, Microsoft.Network (VNets, subnets, NSGs, public IPs, NICs),
//!   managed identities, role assignments, Key Vault vaults and keys, container groups and
//!   confidential VMs, with long-running operations (`Azure-AsyncOperation` / `Location`),
//!   ARM error bodies and the request/response shapes of Microsoft's published examples.
//! * **Key Vault data plane** (api-version 7.x): keys, versions, rotation, release.
//!   Vaults report the real `vaultUri` (`https://{name}.vault.azure.net/`); clients reach
//!   the data plane at [`SimHandle::keyvault_endpoint_for`] (`{arm_endpoint}/kv/{name}`).
//! * **Containers**: a running container group gets a real HTTP listener on its own
//!   127.x.y.z address that plays the Polaris proxy, including simulated key release.
//!
//! Operations finish when the configured [`SimClock`] says their latency has passed, so
//! tests can drive time virtually. [`FaultPlan`] injects throttling, failed or stuck
//! operations, dropped connections and failures after a write took effect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), polaris_sim::SimError> {
//! let sim = polaris_sim::Simulator::start(polaris_sim::SimConfig::default()).await?;
//! let ca = reqwest::Certificate::from_pem(sim.ca_certificate_pem().as_bytes()).unwrap();
//! let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
//! let url = format!(
//!     "{}/subscriptions/s/resourcegroups/rg?api-version=2024-03-01",
//!     sim.arm_endpoint()
//! );
//! let body = serde_json::json!({ "location": "westeurope" });
//! let response = client.put(url).bearer_auth("token").json(&body).send().await;
//! # drop(response);
//! # Ok(())
//! # }
//! ```
//!
//! See `README.md` in this crate for the deviations from Azure and the fault plan format.

mod arm;
mod clock;
mod config;
mod containers;
mod context;
mod error;
mod faults;
mod keyvault;
mod reply;
mod request;
mod routing;
mod server;
mod sim;
mod state;
mod tls;

pub use clock::{ManualClock, SimClock, SystemClock};
pub use config::{LatencyProfile, OpTiming, SimConfig, VmSku};
pub use error::SimError;
pub use faults::{
    AfterWrite, Fault, FaultHandle, FaultPlan, FaultRule, Occurrence, PathPattern, RequestMatcher,
};
pub use sim::{DeletedVaultSeed, SimHandle, Simulator, run_forever, run_until};
pub use state::inventory::{LoggedRequest, SimResource, SoftDeletedVault};

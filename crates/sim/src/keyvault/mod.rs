//! Key Vault: the key store shared by both planes, and the data-plane REST API.
//!
//! A vault's data plane is served by the same HTTPS listener under `/kv/{vault}/...`;
//! requests whose `Host` is `{vault}.vault.azure.net` are routed there too.

pub(crate) mod arm_view;
pub(crate) mod data_plane;
pub(crate) mod material;
pub(crate) mod store;

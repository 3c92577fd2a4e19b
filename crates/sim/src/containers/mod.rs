//! Simulated containers: when a container group runs, a real HTTP listener on its own
//! loopback address plays the Polaris proxy (health, public key via simulated key release,
//! and a workload echo).

pub(crate) mod listener;
pub(crate) mod proxy;

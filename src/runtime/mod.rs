//! The embedded default: everything on one machine. An in-process queue with Service Bus
//! semantics drives the same [`App`](crate::app::App) the Functions host calls, state lives
//! on local disk (or in memory for tests and benchmarks), and the Azure clients talk to the
//! simulated Azure over HTTPS on loopback with a local credential. No other host, and never
//! a metadata endpoint, is contacted.

mod clocks;
mod embedded;
mod executor;

pub use clocks::SimClockAdapter;
pub use embedded::{EmbeddedRuntime, RuntimeError, RuntimeOptions, StateBackend, TimeMode};
pub use executor::{AzureExecutor, AzureSettings, build_azure_executor};

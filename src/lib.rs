//! polaris-orchestrator: deploys confidential AI inference endpoints on Azure as an
//! event-driven saga.
//!
//! The pure decisions live in `polaris-core`; this crate holds the edges that run them: the
//! message handler ([`worker`]), the deployments service, the embedded runtime (in-process
//! queue, state on local disk, simulated Azure) and the Functions custom handler.

pub mod api;
pub mod app;
pub mod bench;
pub mod chaos;
pub mod cli;
pub mod clock;
pub mod deployments;
pub mod error;
pub mod events;
pub mod planning;
pub mod queue;
pub mod rotation;
pub mod runtime;
pub mod secrets;
pub mod serve;
pub mod settings;
pub mod store;
pub mod sweeper;
pub mod worker;

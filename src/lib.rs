//! polaris-orchestrator: deploys confidential AI inference endpoints on Azure as an
//! event-driven saga.
//!
//! The pure decisions live in `polaris-core`; this crate holds the edges that run them: the
//! message handler ([`worker`]), the deployments service, the embedded runtime (in-process
//! queue, state on local disk, simulated Azure) and the Functions custom handler.

pub mod api;
/// `println!` for command output that ends the process quietly when stdout is closed (as in
/// `polaris plan --json | head`) instead of panicking on the broken pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::write_stdout("\n") };
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same broken-pipe handling as [`outln!`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::write_stdout(&format!($($arg)*)) };
}

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

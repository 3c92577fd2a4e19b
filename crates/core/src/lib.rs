//! The pure core of the orchestrator.
//!
//! Everything here is a function of its inputs: a deployment spec becomes a plan (the Azure
//! resources, their bodies and dependencies), and the saga turns `(state, event)` into a new
//! state plus commands. Nothing in this crate performs I/O, reads a clock or draws random
//! numbers, so every decision can be replayed and tested exhaustively. The adapters that talk
//! to Azure, Blob Storage and Service Bus implement the ports declared in [`ports`].

pub mod action;
pub mod ids;
pub mod plan;
pub mod ports;
pub mod saga;
pub mod spec;

pub use action::{Action, FailureClass, OperationKind, Outcome, PendingOperation};
pub use ids::{DeploymentId, IdError, StepName};
pub use plan::model::{Plan, PlannedStep, StepKind};

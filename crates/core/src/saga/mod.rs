//! The saga: a pure state machine over the plan's dependency graph.
//!
//! `decide(plan, state, event, now)` returns the next state and the work items to dispatch.
//! Forward steps run as soon as their dependencies succeed, so independent branches (network
//! and vault) are in flight at once. A permanent failure, or retries running out, turns the
//! saga around: every step that may have created something is undone in reverse dependency
//! order. An undo that cannot finish leaves the deployment `stuck` with the reason, never
//! silently half-deleted.

mod config;
mod decide;
mod error;
mod graph;
mod message;
mod resolve;
mod state;

pub use config::SagaConfig;
pub use decide::{
    Admission, Decision, NOT_OWNED, action_for, admit, decide, new_deployment, pending_items,
};
pub use error::SagaError;
pub use graph::{check_plan, topological_order};
pub use message::{WORK_SCHEMA, WorkItem, WorkMessage};
pub use resolve::resolve_placeholders;
pub use state::{
    DeploymentStatus, ErrorRecord, Event, HistoryEntry, Intent, Phase, SagaState, StepState,
    StepStatus,
};

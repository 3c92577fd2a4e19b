//! Errors of the orchestrator's edge: the worker, the deployments service, the runtime.

use polaris_core::ports::{SendError, StoreError};
use polaris_core::saga::SagaError;
use polaris_core::spec::SpecErrors;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("deployment `{id}` does not exist")]
    UnknownDeployment { id: String },
    #[error("state of deployment `{id}` cannot be read: {why}")]
    CorruptState { id: String, why: String },
    #[error("{0}")]
    InvalidSpec(SpecErrors),
    #[error("message body is not a polaris work message: {0}")]
    MalformedMessage(String),
    #[error(transparent)]
    Saga(#[from] SagaError),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("work queue: {0}")]
    Send(#[from] SendError),
    #[error("secret store: {0}")]
    Secrets(#[from] polaris_core::ports::SecretError),
    #[error("deployment `{id}` is busy: another worker holds it")]
    Busy { id: String },
}

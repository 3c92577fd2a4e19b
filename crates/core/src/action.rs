//! The boundary between the pure saga and the adapters.
//!
//! The saga describes one unit of I/O as an [`Action`]; an executor at the edge performs it
//! (a few HTTP requests at most, never a long wait) and reports an [`Outcome`]. Keeping this
//! boundary data-only is what lets the saga be replayed deterministically and lets the chaos
//! harness inject faults between the two halves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{DeploymentId, StepName};
use crate::plan::model::{
    ArmResource, HealthCheckSpec, KeyResource, OutputSelector, Ownership, VaultResource,
    VerifyResource,
};

/// One bounded unit of I/O for one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Observe-then-act create: GET; adopt a resource carrying our tag; refuse one that does
    /// not; otherwise PUT. Placeholders in the body are already resolved, except secrets.
    Ensure { owner: DeploymentId, resource: ArmResource },
    /// Like `Ensure`, with soft-deleted-vault recovery (B01).
    EnsureVault { owner: DeploymentId, vault: VaultResource },
    /// Create-if-not-exist key, then read it back and compare the release policy (B03).
    EnsureKey { owner: DeploymentId, key: KeyResource },
    /// Check a resource we reference but do not own.
    Verify { resource: VerifyResource },
    /// One poll of an operation started earlier.
    Poll { operation: PendingOperation, outputs: Vec<OutputSelector> },
    /// Ownership-checked delete: GET; 404 counts as deleted; a resource that is not provably
    /// ours is never deleted.
    Delete { owner: DeploymentId, id: String, api_version: String, ownership: Ownership },
    /// Delete a vault, then purge it unless purge protection forbids it (B27).
    DeleteVault { owner: DeploymentId, vault: VaultResource },
    /// One probe of the proxy (and key release in enhanced mode).
    HealthCheck { check: HealthCheckSpec },
}

/// How an in-flight Azure operation is tracked between invocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// Poll the `Azure-AsyncOperation` status resource (always 200, `status` in the body).
    AsyncOperation,
    /// Poll the `Location` URL (202 while running, the final response when done).
    Location,
    /// Poll the resource itself until `provisioningState` is terminal.
    ResourceState,
    /// Poll the resource until it is gone (404).
    ResourceGone,
    /// Re-probe the health endpoints.
    Health,
}

/// An operation whose completion a later invocation will check. Persisted in saga state, so a
/// crash between polls loses nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOperation {
    pub kind: OperationKind,
    /// Absolute URL to poll (status or Location URL), or the resource id for resource polls.
    pub url: String,
    /// The resource the operation acts on, for the final GET that reads outputs.
    pub resource_id: String,
    pub api_version: String,
    /// True when the operation removes the resource (delete / purge).
    pub removing: bool,
}

/// How a failure should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Throttling, 5xx, connection errors: retry with backoff, honouring `Retry-After`.
    Transient,
    /// The request can never succeed as sent (bad body, policy denial, not ours): compensate.
    Permanent,
    /// We cannot tell whether the write took effect (timeout after sending): observe again.
    UnknownOutcome,
    /// The region lacks capacity right now: remove the partial resource, retry later (B11).
    Capacity,
}

/// The result of one [`Action`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Finished. `adopted` is true when the resource already existed with our tag.
    Done {
        outputs: BTreeMap<String, String>,
        adopted: bool,
        request_id: Option<String>,
        /// Free text for history, e.g. "vault soft-deleted; purge protection keeps it until
        /// 2027-03-04".
        note: Option<String>,
    },
    /// Still running; poll `operation` again no sooner than `retry_after_secs`.
    InProgress {
        operation: PendingOperation,
        retry_after_secs: Option<u64>,
        request_id: Option<String>,
    },
    Failed(StepFailure),
}

/// A classified failure with the Azure details a user needs to act on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepFailure {
    pub class: FailureClass,
    /// ARM/Key Vault error code, or one of ours (`NotOwned`, `ImagePullFailed`,
    /// `CcePolicyDenied`, `KeyReleaseFailed`, `StepDeadlineExceeded`, ...).
    pub code: String,
    pub message: String,
    pub retry_after_secs: Option<u64>,
    pub request_id: Option<String>,
}

impl StepFailure {
    pub fn new(class: FailureClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class,
            code: code.into(),
            message: message.into(),
            retry_after_secs: None,
            request_id: None,
        }
    }
}

/// What the executor is given besides the action, so the core stays clock-free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecContext {
    pub deployment_id: DeploymentId,
    pub step: StepName,
    pub attempt: u32,
    pub now: OffsetDateTime,
}

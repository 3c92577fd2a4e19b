//! Ports: the interfaces adapters implement. Declared here so the core's callers can be
//! written against them, implemented at the edge (local disk, Blob Storage, Key Vault, ...).

use async_trait::async_trait;

/// An opaque version tag; a write that presents a stale one fails.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ETag(pub String);

/// A stored document with the version it was read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    pub body: Vec<u8>,
    pub etag: ETag,
}

/// The precondition of a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteCondition {
    /// Create only; fails with `AlreadyExists` if the key exists (`If-None-Match: *`).
    CreateOnly,
    /// Replace only the version that was read (`If-Match: <etag>`); never `If-Match: *`,
    /// which Azurite honours wrongly (B23).
    IfMatch(ETag),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no document at `{key}`")]
    NotFound { key: String },
    #[error("document `{key}` already exists")]
    AlreadyExists { key: String },
    #[error("document `{key}` changed since it was read (stale ETag); re-read and retry")]
    Conflict { key: String },
    #[error("document `{key}` is leased by another worker")]
    Leased { key: String },
    #[error("state store unavailable: {message}")]
    Unavailable { message: String },
}

/// A lease on one key: while held, other workers cannot take it (B17).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub id: String,
}

/// Where saga state lives: local disk in the embedded default, Blob Storage in Azure.
#[async_trait]
pub trait StateStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Versioned, StoreError>;
    /// Writes `body` if `condition` holds; returns the new ETag.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: WriteCondition,
    ) -> Result<ETag, StoreError>;
    /// Keys under `prefix`, in lexical order, at most `limit`, starting after `after`.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Takes an exclusive lease on an existing key for `seconds` (15-60), or fails with
    /// `Leased` when another worker holds it.
    async fn acquire_lease(&self, key: &str, seconds: u32) -> Result<Lease, StoreError>;
    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{key}` of deployment `{deployment}` is missing")]
    Missing { deployment: String, key: String },
    #[error("secret store unavailable: {message}")]
    Unavailable { message: String },
}

/// Holds deployment secrets (registry password, secure env values) apart from saga state, so
/// state blobs, logs and API answers never contain them.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn put(&self, deployment: &str, key: &str, value: &str) -> Result<(), SecretError>;
    async fn get(&self, deployment: &str, key: &str) -> Result<String, SecretError>;
    async fn delete_all(&self, deployment: &str) -> Result<(), SecretError>;
}

/// A message for the work queue (Service Bus in Azure, the in-process queue locally).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Unique per deployment, step, attempt and tick for continuations, so duplicate
    /// detection never swallows a legitimate one (B18); deterministic for inbound requests,
    /// so client re-sends are absorbed. Never empty.
    pub message_id: String,
    /// JSON body.
    pub body: Vec<u8>,
    /// Deliver no sooner than this (Service Bus `ScheduledEnqueueTimeUtc`).
    pub scheduled_enqueue_time: Option<time::OffsetDateTime>,
    /// The deployment id, so all messages of one deployment correlate.
    pub correlation_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("message id must not be empty")]
    EmptyMessageId,
    #[error("queue unavailable: {message}")]
    Unavailable { message: String },
    #[error("queue rejected the message: {message}")]
    Rejected { message: String },
}

/// Sends work messages; implemented by the embedded queue and the Service Bus REST sender.
#[async_trait]
pub trait MessageSender: Send + Sync {
    async fn send(&self, message: OutboundMessage) -> Result<(), SendError>;
}

/// Performs one saga action against Azure (or the simulator, or a test model) and classifies
/// the result. Must return within one invocation's budget: long waits come back as
/// `Outcome::InProgress`, never as a sleep.
#[async_trait]
pub trait Executor: Send + Sync {
    async fn execute(
        &self,
        action: &crate::action::Action,
        ctx: &crate::action::ExecContext,
    ) -> crate::action::Outcome;
}

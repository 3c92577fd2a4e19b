//! Schedule slots: one rotation per deployment per slot, however often the timer fires.

use polaris_core::ids::DeploymentId;
use polaris_core::ports::{Lease, StoreError, WriteCondition};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::app::App;
use crate::error::WorkerError;

/// Longer than one rotation (three data-plane calls and a restart).
const LEASE_SECS: u32 = 60;

/// One run of the rotation job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationRun {
    pub now: OffsetDateTime,
    /// Runs with the same slot rotate each deployment at most once.
    pub slot: String,
}

impl RotationRun {
    /// A scheduled run: the slot is the UTC day, because the shortest rotation interval is
    /// 7 days and a retried or doubled timer occurrence falls on the same day.
    pub fn scheduled(now: OffsetDateTime) -> Self {
        let date = now.date();
        let slot = format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day());
        Self { now, slot }
    }

    /// A request through the API: its own slot per second, so a double click rotates once.
    pub fn manual(now: OffsetDateTime) -> Self {
        let slot = format!("manual-{}", now.unix_timestamp());
        Self { now, slot }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ClaimDoc {
    #[serde(with = "time::serde::rfc3339")]
    claimed_at: OffsetDateTime,
    done: bool,
}

/// A held claim: the lease and what the record said when it was taken.
pub struct HeldClaim {
    lease: Lease,
    pub claimed_at: OffsetDateTime,
    pub done: bool,
}

/// The record of one deployment's slot in the state store.
pub struct SlotClaim<'a> {
    app: &'a App,
    key: String,
}

impl<'a> SlotClaim<'a> {
    pub fn new(app: &'a App, id: &DeploymentId, slot: &str) -> Self {
        Self { app, key: format!("rotations/{id}/{slot}.json") }
    }

    pub async fn is_done(&self) -> Result<bool, WorkerError> {
        Ok(self.read().await?.is_some_and(|(doc, _)| doc.done))
    }

    /// Creates the record if needed and leases it; `None` when another run holds it.
    pub async fn take(&self, now: OffsetDateTime) -> Result<Option<HeldClaim>, WorkerError> {
        let store = &self.app.worker.store;
        let doc = ClaimDoc { claimed_at: now, done: false };
        let body = serde_json::to_vec(&doc).expect("claim serializes");
        match store.put(&self.key, body, WriteCondition::CreateOnly).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }

        let lease = match store.acquire_lease(&self.key, LEASE_SECS).await {
            Ok(lease) => lease,
            Err(StoreError::Leased { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match self.read().await {
            Ok(Some((doc, _))) => {
                Ok(Some(HeldClaim { lease, claimed_at: doc.claimed_at, done: doc.done }))
            }
            Ok(None) => {
                let _ = store.release_lease(&lease).await;
                Ok(None)
            }
            Err(e) => {
                let _ = store.release_lease(&lease).await;
                Err(e)
            }
        }
    }

    pub async fn mark_done(&self) -> Result<(), WorkerError> {
        let Some((mut doc, etag)) = self.read().await? else { return Ok(()) };
        doc.done = true;
        let body = serde_json::to_vec(&doc).expect("claim serializes");
        self.app.worker.store.put(&self.key, body, WriteCondition::IfMatch(etag)).await?;
        Ok(())
    }

    pub async fn release(&self, held: HeldClaim) {
        if let Err(e) = self.app.worker.store.release_lease(&held.lease).await {
            tracing::debug!(error = %e, "rotation claim lease not released; it expires");
        }
    }

    async fn read(&self) -> Result<Option<(ClaimDoc, polaris_core::ports::ETag)>, WorkerError> {
        match self.app.worker.store.get(&self.key).await {
            Ok(doc) => {
                let parsed = serde_json::from_slice(&doc.body).map_err(|e| {
                    WorkerError::CorruptState { id: self.key.clone(), why: e.to_string() }
                })?;
                Ok(Some((parsed, doc.etag)))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

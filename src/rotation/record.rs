//! Writes a rotation into saga state: a history entry and the new outputs, with the same
//! read-modify-write-on-ETag loop the worker uses, so a concurrent saga decision is never
//! overwritten.

use std::time::Duration;

use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::ports::{StoreError, WriteCondition};
use polaris_core::saga::HistoryEntry;
use time::OffsetDateTime;

use crate::error::WorkerError;
use crate::worker::{Worker, state_key};

/// What to add to a deployment's state.
#[derive(Clone, Debug)]
pub struct StateNote {
    pub event: &'static str,
    pub detail: String,
    pub request_id: Option<String>,
    /// Outputs to set (name, value).
    pub outputs: Vec<(String, String)>,
    /// Skip the write when history already has an entry with this event and detail (a
    /// resumed run records once).
    pub once: bool,
}

pub async fn note(
    worker: &Worker,
    id: &DeploymentId,
    note: &StateNote,
    now: OffsetDateTime,
) -> Result<(), WorkerError> {
    for _ in 0..8 {
        let (mut state, etag) = worker.read(id).await?;
        let seen = state.history.iter().any(|h| h.event == note.event && h.detail == note.detail);
        if note.once && seen {
            return Ok(());
        }

        state.history.push(HistoryEntry {
            at: now,
            step: Some(StepName::new("key")),
            phase: None,
            attempt: 0,
            event: note.event.to_owned(),
            detail: note.detail.clone(),
            request_id: note.request_id.clone(),
        });
        for (name, value) in &note.outputs {
            state.outputs.insert(name.clone(), Some(value.clone()));
        }
        state.revision += 1;
        state.updated_at = now;

        let body = serde_json::to_vec(&state).expect("saga state serializes");
        match worker.store.put(&state_key(id), body, WriteCondition::IfMatch(etag)).await {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) | Err(StoreError::Leased { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkerError::Busy { id: id.to_string() })
}

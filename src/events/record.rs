//! A small record per handled event id, so duplicate deliveries are acknowledged without
//! acting twice, and ignored events leave a trace an operator can read.

use polaris_core::ports::{StoreError, WriteCondition};
use polaris_host::IncomingEvent;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EventDisposition;
use crate::app::App;

#[derive(Serialize)]
struct EventRecord<'a> {
    id: &'a str,
    event_type: &'a str,
    subject: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    handled_at: time::OffsetDateTime,
    disposition: &'a EventDisposition,
}

pub struct EventRecords<'a> {
    app: &'a App,
}

impl<'a> EventRecords<'a> {
    pub fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Event ids are free text; the key uses their hash so any id makes a valid key.
    pub fn key(event_id: &str) -> String {
        let digest = Sha256::digest(event_id.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("events/{hex}.json")
    }

    pub async fn seen(&self, event_id: &str) -> Result<bool, StoreError> {
        match self.app.worker.store.get(&Self::key(event_id)).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn remember(
        &self,
        event: &IncomingEvent,
        disposition: &EventDisposition,
    ) -> Result<(), StoreError> {
        let record = EventRecord {
            id: &event.id,
            event_type: &event.event_type,
            subject: event.subject.as_deref(),
            handled_at: self.app.worker.clock.now(),
            disposition,
        };
        let body = serde_json::to_vec(&record).expect("event record serializes");
        match self
            .app
            .worker
            .store
            .put(&Self::key(&event.id), body, WriteCondition::CreateOnly)
            .await
        {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

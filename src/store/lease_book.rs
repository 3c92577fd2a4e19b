//! Which leases one store instance holds, so its writes can act as the lease holder's.
//!
//! Blob Storage refuses a write to a leased blob unless the write presents the lease id,
//! and the port's `put` and `delete` carry none. The Blob adapter therefore remembers the
//! leases it took and presents them; the embedded stores keep the same book so all three
//! agree: writes through the instance that took a lease pass, writes through any other
//! instance (another process sharing the directory) fail with `Leased`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use polaris_core::ports::StoreError;
use time::OffsetDateTime;

use super::record::Record;

/// `key -> lease id` for leases this instance acquired and has not released.
#[derive(Debug, Default)]
pub struct LeaseBook {
    held: Mutex<HashMap<String, String>>,
}

impl LeaseBook {
    pub fn remember(&self, key: &str, id: &str) {
        self.held().insert(key.to_owned(), id.to_owned());
    }

    /// Forgets `key`'s lease only if it is still `id`, so a stale release cannot drop a
    /// lease taken after it.
    pub fn forget(&self, key: &str, id: &str) {
        let mut held = self.held();
        if held.get(key).is_some_and(|held_id| held_id == id) {
            held.remove(key);
        }
    }

    pub fn forget_key(&self, key: &str) {
        self.held().remove(key);
    }

    /// Decides whether this instance may write `current` (the document at `key`) now.
    ///
    /// - Someone else's unexpired lease: `Leased`.
    /// - Our own lease, since lapsed (expired, possibly taken over): the entry is dropped
    ///   and the write fails with `Conflict` (or `Leased` if taken over), as Blob Storage
    ///   refuses a write presenting a lost lease; re-reading and retrying then succeeds
    ///   without the lease, and the saga learns it lost ownership.
    pub fn check_write(
        &self,
        key: &str,
        current: Option<&Record>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(record) = current else {
            self.forget_key(key);
            return Ok(());
        };

        let active = record.header.lease.as_ref().filter(|lease| lease.expires_at > now);
        let mut held = self.held();
        let ours = held.get(key);
        match (active, ours) {
            (Some(lease), Some(id)) if &lease.id == id => Ok(()),
            (Some(_), _) => {
                held.remove(key);
                Err(StoreError::Leased { key: key.to_owned() })
            }
            (None, Some(_)) => {
                held.remove(key);
                Err(StoreError::Conflict { key: key.to_owned() })
            }
            (None, None) => Ok(()),
        }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

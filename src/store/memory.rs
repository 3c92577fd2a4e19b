//! A state store in a map, for benchmarks and chaos tests that run many deployments without
//! touching the disk.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use polaris_core::ports::{ETag, Lease, StateStore, StoreError, Versioned, WriteCondition};

use super::lease_book::LeaseBook;
use super::{key, record};
use crate::clock::Clock;

/// Keeps documents in memory with the same conditional-write and lease rules as
/// [`LocalDiskStore`](super::LocalDiskStore).
///
/// ETags come from one counter for the whole store, so they are unique across keys and
/// deletes, and deterministic for a given sequence of operations. One instance stands for
/// one process: it holds every lease it grants, as one Blob adapter instance does.
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    documents: Mutex<BTreeMap<String, record::Record>>,
    counter: AtomicU64,
    leases: LeaseBook,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let documents = Mutex::new(BTreeMap::new());
        Self { clock, documents, counter: AtomicU64::new(0), leases: LeaseBook::default() }
    }

    /// Number of documents held.
    pub fn len(&self) -> usize {
        self.documents().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn documents(&self) -> MutexGuard<'_, BTreeMap<String, record::Record>> {
        // A panic elsewhere never leaves a half-applied write: every change is one insert.
        self.documents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore").field("documents", &self.len()).finish_non_exhaustive()
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn get(&self, key: &str) -> Result<Versioned, StoreError> {
        key::validate(key)?;

        let documents = self.documents();
        let record = documents.get(key).ok_or_else(|| not_found(key))?;
        Ok(record.versioned())
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: WriteCondition,
    ) -> Result<ETag, StoreError> {
        key::validate(key)?;

        let now = self.clock.now();
        let mut documents = self.documents();
        let mint = |_version| format!("0x{:016x}", self.next_id());
        let updated = record::put(key, documents.get(key), body, &condition, mint)?;
        self.leases.check_write(key, documents.get(key), now)?;

        let etag = ETag(updated.header.etag.clone());
        documents.insert(key.to_owned(), updated);
        Ok(etag)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let documents = self.documents();
        let lower = match after {
            Some(after) if after >= prefix => Bound::Excluded(after.to_owned()),
            _ => Bound::Included(prefix.to_owned()),
        };

        let keys = documents
            .range((lower, Bound::Unbounded))
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(prefix))
            .take(limit)
            .cloned()
            .collect();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        key::validate(key)?;

        let now = self.clock.now();
        let mut documents = self.documents();
        let current = documents.get(key).ok_or_else(|| not_found(key))?;
        self.leases.check_write(key, Some(current), now)?;

        documents.remove(key);
        self.leases.forget_key(key);
        Ok(())
    }

    async fn acquire_lease(&self, key: &str, seconds: u32) -> Result<Lease, StoreError> {
        key::validate(key)?;

        let now = self.clock.now();
        let mut documents = self.documents();
        let id = format!("lease-{:016x}", self.next_id());
        let (updated, lease) = record::acquire_lease(key, documents.get(key), now, seconds, id)?;

        documents.insert(key.to_owned(), updated);
        self.leases.remember(key, &lease.id);
        Ok(lease)
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        key::validate(&lease.key)?;

        let mut documents = self.documents();
        let released = record::release_lease(documents.get(&lease.key), lease);
        self.leases.forget(&lease.key, &lease.id);

        if let Some(updated) = released? {
            documents.insert(lease.key.clone(), updated);
        }
        Ok(())
    }
}

fn not_found(key: &str) -> StoreError {
    StoreError::NotFound { key: key.to_owned() }
}

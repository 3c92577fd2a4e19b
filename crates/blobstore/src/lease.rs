//! Blob leases: saga ownership (B17). The lease book remembers which leases this store holds
//! so that writes can present them; see the `store` module docs.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use azure_storage_blob::models::{
    BlobClientAcquireLeaseResultHeaders, BlobClientGetPropertiesResultHeaders, LeaseState,
};
use polaris_core::ports::{Lease, StoreError};

use crate::BlobStateStore;
use crate::error::{Answer, unavailable, unavailable_local};
use crate::keys::check_key;
use crate::read::missing_or_unavailable;

/// The service accepts fixed leases of 15 to 60 seconds (or infinite, which we never take:
/// a crashed owner would block the deployment until someone breaks the lease).
const LEASE_SECONDS: std::ops::RangeInclusive<u32> = 15..=60;

/// `key -> lease id` for the leases this store acquired and has not released.
#[derive(Debug, Default)]
pub(crate) struct LeaseBook {
    held: Mutex<HashMap<String, String>>,
}

impl LeaseBook {
    pub fn lease_for(&self, key: &str) -> Option<String> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    fn remember(&self, key: &str, id: &str) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.insert(key.to_owned(), id.to_owned());
    }

    /// Forgets `key`'s lease only if it is still `id`, so a stale release cannot drop a
    /// newer lease taken after it.
    pub fn forget(&self, key: &str, id: &str) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.get(key).is_some_and(|held_id| held_id == id) {
            held.remove(key);
        }
    }
}

pub(crate) async fn acquire(
    store: &BlobStateStore,
    key: &str,
    seconds: u32,
) -> Result<Lease, StoreError> {
    check_key("acquire lease", key)?;
    if !LEASE_SECONDS.contains(&seconds) {
        let why = format!("lease duration must be 15-60 s, got {seconds}");
        return Err(unavailable_local("acquire lease", key, &why));
    }

    let duration = i32::try_from(seconds).unwrap_or(60);
    let response = match store.blob(key).acquire_lease(duration, None).await {
        Ok(response) => response,
        Err(err) => {
            let answer = Answer::of(&err);
            return Err(if answer.code_is("BlobNotFound") {
                StoreError::NotFound { key: key.to_owned() }
            } else if answer.is(409) {
                tracing::debug!(key, code = ?answer.code, "lease held by another worker");
                StoreError::Leased { key: key.to_owned() }
            } else {
                unavailable("acquire lease", key, &err)
            });
        }
    };

    let id = match response.lease_id() {
        Ok(Some(id)) => id,
        Ok(None) => return Err(unavailable_local("acquire lease", key, "no x-ms-lease-id")),
        Err(err) => return Err(unavailable("acquire lease", key, &err)),
    };
    store.leases.remember(key, &id);
    tracing::debug!(key, seconds, "lease acquired");
    Ok(Lease { key: key.to_owned(), id })
}

/// Releasing is idempotent for leases that are already gone (expired and free, or deleted
/// with their blob); it fails with `Leased` only when someone else holds the blob now.
pub(crate) async fn release(store: &BlobStateStore, lease: &Lease) -> Result<(), StoreError> {
    let key = lease.key.as_str();
    check_key("release lease", key)?;

    let Err(err) = store.blob(key).release_lease(lease.id.clone(), None).await else {
        store.leases.forget(key, &lease.id);
        tracing::debug!(key, "lease released");
        return Ok(());
    };

    let answer = Answer::of(&err);
    let gone =
        answer.code_is("BlobNotFound") || answer.code_is("LeaseNotPresentWithLeaseOperation");
    if answer.code_is("LeaseIdMismatchWithLeaseOperation") {
        store.leases.forget(key, &lease.id);
        return held_by_someone_else(store, key).await;
    }
    if gone {
        store.leases.forget(key, &lease.id);
        tracing::debug!(key, code = ?answer.code, "lease already gone");
        return Ok(());
    }
    Err(unavailable("release lease", key, &err))
}

/// The service says "mismatch" both when another worker holds the blob now and when our
/// expired lease was cleared by a later unleased write; only the first is `Leased`.
async fn held_by_someone_else(store: &BlobStateStore, key: &str) -> Result<(), StoreError> {
    let properties = match store.blob(key).get_properties(None).await {
        Ok(properties) => properties,
        Err(err) => return Err(missing_or_unavailable("release lease", key, &err)),
    };

    match properties.lease_state() {
        Ok(Some(LeaseState::Leased)) => Err(StoreError::Leased { key: key.to_owned() }),
        Ok(state) => {
            tracing::debug!(key, ?state, "our lease had expired and was cleared");
            Ok(())
        }
        Err(err) => Err(unavailable("release lease", key, &err)),
    }
}

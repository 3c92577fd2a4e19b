//! The rules of conditional writes and leases, as pure functions over a stored record.
//!
//! [`MemoryStore`](super::MemoryStore) and [`LocalDiskStore`](super::LocalDiskStore) differ
//! only in where a record lives; both call these functions under their own lock, so their
//! semantics cannot drift apart.

use std::time::Duration;

use polaris_core::ports::{ETag, Lease, StoreError, Versioned, WriteCondition};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Shortest lease Blob Storage grants; the embedded stores refuse shorter ones too, so a
/// duration that works locally also works in Azure.
pub const MIN_LEASE_SECS: u32 = 15;

/// Longest finite lease Blob Storage grants.
pub const MAX_LEASE_SECS: u32 = 60;

/// Everything about a document except its body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub etag: String,
    /// Counts writes since the document was created; only for people reading the files.
    pub version: u64,
    pub lease: Option<LeaseState>,
}

/// The lease currently recorded on a document (possibly expired).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseState {
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl LeaseState {
    fn is_active(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now
    }
}

/// A stored document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub header: Header,
    pub body: Vec<u8>,
}

impl Record {
    pub fn versioned(&self) -> Versioned {
        Versioned { body: self.body.clone(), etag: ETag(self.header.etag.clone()) }
    }
}

/// Applies a conditional write to `current` and returns the record to store.
///
/// `mint_etag` receives the new version number and must return a tag never handed out
/// before for this key, not even before a delete, so a stale tag can never match again.
/// A lease on the document survives the write (see [`acquire_lease`]).
pub fn put(
    key: &str,
    current: Option<&Record>,
    body: Vec<u8>,
    condition: &WriteCondition,
    mint_etag: impl FnOnce(u64) -> String,
) -> Result<Record, StoreError> {
    let (version, lease) = match (condition, current) {
        (WriteCondition::CreateOnly, None) => (1, None),
        (WriteCondition::CreateOnly, Some(_)) => {
            return Err(StoreError::AlreadyExists { key: key.to_owned() });
        }
        // Never creates: If-Match on a missing document is the B23 trap.
        (WriteCondition::IfMatch(_), None) => {
            return Err(StoreError::NotFound { key: key.to_owned() });
        }
        (WriteCondition::IfMatch(expected), Some(record)) => {
            if record.header.etag != expected.0 {
                return Err(StoreError::Conflict { key: key.to_owned() });
            }
            (record.header.version + 1, record.header.lease.clone())
        }
    };

    let header = Header { etag: mint_etag(version), version, lease };
    Ok(Record { header, body })
}

/// Grants a lease of `seconds` on `current`, returning the updated record and the lease.
///
/// # Guarantees
/// At most one unexpired lease exists per document. An expired lease can be taken over by
/// anyone; the previous holder learns it lost the lease when its release fails.
///
/// # Caveats
/// [`put`] ignores leases: the port's `put` carries no lease id, so whether a writer holds
/// the lease is known only to the store instance that took it (its
/// [`LeaseBook`](super::lease_book::LeaseBook)), which checks before writing.
pub fn acquire_lease(
    key: &str,
    current: Option<&Record>,
    now: OffsetDateTime,
    seconds: u32,
    new_id: String,
) -> Result<(Record, Lease), StoreError> {
    check_lease_duration(seconds)?;

    let Some(record) = current else {
        return Err(StoreError::NotFound { key: key.to_owned() });
    };
    if record.header.lease.as_ref().is_some_and(|lease| lease.is_active(now)) {
        return Err(StoreError::Leased { key: key.to_owned() });
    }

    let expires_at = now + Duration::from_secs(u64::from(seconds));
    let mut updated = record.clone();
    updated.header.lease = Some(LeaseState { id: new_id.clone(), expires_at });
    Ok((updated, Lease { key: key.to_owned(), id: new_id }))
}

/// Ends `lease`. Returns the record to store, or `None` when nothing changes.
///
/// Releasing twice is fine; releasing a lease that expired and was taken over by another
/// worker fails with `Leased`, so the former holder knows it lost ownership.
pub fn release_lease(
    current: Option<&Record>,
    lease: &Lease,
) -> Result<Option<Record>, StoreError> {
    let Some(record) = current else {
        return Err(StoreError::NotFound { key: lease.key.clone() });
    };

    match &record.header.lease {
        None => Ok(None),
        Some(held) if held.id == lease.id => {
            let mut updated = record.clone();
            updated.header.lease = None;
            Ok(Some(updated))
        }
        Some(_) => Err(StoreError::Leased { key: lease.key.clone() }),
    }
}

fn check_lease_duration(seconds: u32) -> Result<(), StoreError> {
    if (MIN_LEASE_SECS..=MAX_LEASE_SECS).contains(&seconds) {
        return Ok(());
    }
    Err(StoreError::Unavailable {
        message: format!(
            "lease duration {seconds} s is outside {MIN_LEASE_SECS}-{MAX_LEASE_SECS} s"
        ),
    })
}

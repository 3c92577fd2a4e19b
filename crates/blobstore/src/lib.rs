//! Saga state in Azure Blob Storage, behind the core's [`StateStore`] port.
//!
//! Why this shape:
//! - Every write is conditional. Creation sends `If-None-Match: *`; an update sends
//!   `If-Match: <etag>` with the exact version that was read. We never send `If-Match: *`:
//!   Azurite 3.34 honoured it on a missing blob and created the blob (field report B23), so a
//!   "must exist" guard built on it is not a guard.
//! - A 412 on an update is ambiguous (stale version, or no blob at all), so the store asks the
//!   service whether the blob exists and answers `NotFound` or `Conflict` accordingly.
//! - Saga ownership (B17) uses blob leases. How writes carry the lease is described in
//!   [`store`]: the store remembers the leases it acquired and presents the lease id on every
//!   write and delete of that key.
//!
//! The store takes a credential and `azure_core` client options from its caller, so it stays
//! independent of how the process authenticates (managed identity in Azure, a test token
//! against Azurite) and of the HTTP transport.
//!
//! [`StateStore`]: polaris_core::ports::StateStore

mod error;
mod keys;
mod lease;
mod read;
pub mod store;
#[cfg(feature = "test-azurite")]
pub mod testing;
mod write;

pub use error::BlobStoreError;
pub use store::BlobStateStore;

//! [`BlobStateStore`]: one container of saga records, implementing the core's `StateStore`.
//!
//! # How writes carry a lease
//!
//! The `StateStore` port has no lease argument on `put` and `delete`, yet Blob Storage
//! refuses any write to a leased blob that does not present the lease id. So the store keeps
//! a small *lease book*: `acquire_lease` records `key -> lease id`, and every later `put` or
//! `delete` of that key through the same store sends `x-ms-lease-id` with it. `release_lease`
//! (or deleting the blob) removes the entry.
//!
//! Consequences, on purpose:
//! - Another process, or another `BlobStateStore`, has no entry, so its writes to a key we
//!   hold fail with `Leased` (service code `LeaseIdMissing`). Share one store per process
//!   behind an `Arc` so the saga's writes carry the lease it took.
//! - Within one store the lease does not tell tasks apart: a second `acquire_lease` on a held
//!   key is refused with `Leased` (we never re-present our own id to renew it), and the saga
//!   stops there. Every update also carries `If-Match: <etag>`, so no write is ever lost.
//! - If our lease expired (`LeaseLost`, `LeaseNotPresentWithBlobOperation`) the entry is
//!   dropped and the write fails with `Conflict`: re-read and retry, now without the lease.
//!   If someone else leased it meanwhile (`LeaseIdMismatchWithBlobOperation`) it is `Leased`.
//!
//! A caller that prefers to pass the lease explicitly can use [`BlobStateStore::put_leased`].
//!
//! # Retries
//!
//! The pipeline's retry policy comes from the caller's `ClientOptions`. If it retries a
//! conditional write whose first answer was lost, the retry meets our own new ETag and the
//! write reports `Conflict` although it landed; the saga's re-read-and-retry sees its own
//! content then. Releasing a lease that is already gone (expired and cleared, or deleted with
//! its blob) succeeds; it fails with `Leased` only if another worker holds the blob now.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::{credentials::TokenCredential, http::ClientOptions};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use polaris_core::ports::{ETag, Lease, StateStore, StoreError, Versioned, WriteCondition};
use url::Url;

use crate::error::{Answer, BlobStoreError, unavailable, unavailable_local};
use crate::keys::container_url;
use crate::lease::{self, LeaseBook};
use crate::{read, write};

/// Saga state in one Blob Storage container; see the module docs for the lease design.
pub struct BlobStateStore {
    container: BlobContainerClient,
    container_name: String,
    pub(crate) leases: LeaseBook,
}

impl std::fmt::Debug for BlobStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStateStore").field("container", self.container_url()).finish()
    }
}

impl BlobStateStore {
    /// `account_url` is `https://<account>.blob.core.windows.net` (or Azurite's
    /// `https://127.0.0.1:<port>/devstoreaccount1`). `options` carries the transport and the
    /// retry policy; the caller owns both so tests can bound retries and trust a local CA.
    pub fn new(
        account_url: Url,
        container: &str,
        credential: Arc<dyn TokenCredential>,
        options: ClientOptions,
    ) -> Result<Self, BlobStoreError> {
        let url = container_url(&account_url, container)?;

        let options = BlobContainerClientOptions { client_options: options, ..Default::default() };
        let client = BlobContainerClient::new(url.clone(), Some(credential), Some(options))
            .map_err(|source| BlobStoreError::Client { url: url.to_string(), source })?;

        Ok(Self {
            container: client,
            container_name: container.to_owned(),
            leases: LeaseBook::default(),
        })
    }

    /// The container's URL, for logs and diagnostics.
    pub fn container_url(&self) -> &Url {
        self.container.url()
    }

    /// Creates the container if it is missing. Call once at start-up: the per-request paths
    /// treat a missing container as a configuration error, not as a missing record.
    pub async fn ensure_container(&self) -> Result<(), StoreError> {
        match self.container.create(None).await {
            Ok(_) => {
                tracing::info!(container = %self.container_name, "created state container");
                Ok(())
            }
            Err(err) if Answer::of(&err).code_is("ContainerAlreadyExists") => Ok(()),
            Err(err) => Err(unavailable("create container", &self.container_name, &err)),
        }
    }

    /// `put` that presents `lease` explicitly instead of looking it up in the lease book.
    pub async fn put_leased(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: WriteCondition,
        lease: &Lease,
    ) -> Result<ETag, StoreError> {
        if lease.key != key {
            let why = format!("lease is for `{}`, not this key", lease.key);
            return Err(unavailable_local("put", key, &why));
        }
        write::put(self, key, body, condition, Some(lease.id.clone())).await
    }

    pub(crate) fn blob(&self, key: &str) -> BlobClient {
        self.container.blob_client(key)
    }

    pub(crate) fn container(&self) -> &BlobContainerClient {
        &self.container
    }
}

#[async_trait]
impl StateStore for BlobStateStore {
    async fn get(&self, key: &str) -> Result<Versioned, StoreError> {
        read::get(self, key).await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: WriteCondition,
    ) -> Result<ETag, StoreError> {
        let lease_id = self.leases.lease_for(key);
        write::put(self, key, body, condition, lease_id).await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        read::list(self, prefix, after, limit).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        write::delete(self, key).await
    }

    async fn acquire_lease(&self, key: &str, seconds: u32) -> Result<Lease, StoreError> {
        lease::acquire(self, key, seconds).await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        lease::release(self, lease).await
    }
}

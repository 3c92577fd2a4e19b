//! Conditional writes and deletes. The rules (B23): create with `If-None-Match: *`, update
//! with `If-Match: <etag>` only, never `If-Match: *`; an update can never create a blob.

use azure_core::http::{Etag, RequestContent};
use azure_storage_blob::models::{BlobClientDeleteOptions, BlockBlobClientUploadOptions};
use polaris_core::ports::{ETag, StoreError, WriteCondition};

use crate::BlobStateStore;
use crate::error::{Answer, unavailable, unavailable_local};
use crate::keys::check_key;
use crate::read::missing_or_unavailable;

pub(crate) async fn put(
    store: &BlobStateStore,
    key: &str,
    body: Vec<u8>,
    condition: WriteCondition,
    lease_id: Option<String>,
) -> Result<ETag, StoreError> {
    check_key("put", key)?;

    match condition {
        WriteCondition::CreateOnly => create(store, key, body).await,
        WriteCondition::IfMatch(etag) => replace(store, key, body, &etag, lease_id).await,
    }
}

/// Create-only. No lease is presented: a leased blob exists, and existence alone fails the
/// precondition, so the answer is `AlreadyExists` either way (409 or 412 by service).
async fn create(store: &BlobStateStore, key: &str, body: Vec<u8>) -> Result<ETag, StoreError> {
    let if_none_match = Some(Etag::from("*"));
    let options = BlockBlobClientUploadOptions { if_none_match, ..Default::default() };
    let content = RequestContent::from(body);

    match store.blob(key).block_blob_client().upload(content, Some(options)).await {
        Ok(result) => etag_of("create", key, result.etag),
        Err(err) => {
            let answer = Answer::of(&err);
            if answer.is(409) || answer.is(412) {
                Err(StoreError::AlreadyExists { key: key.to_owned() })
            } else {
                Err(unavailable("create", key, &err))
            }
        }
    }
}

/// Replace exactly the version that was read.
async fn replace(
    store: &BlobStateStore,
    key: &str,
    body: Vec<u8>,
    etag: &ETag,
    lease_id: Option<String>,
) -> Result<ETag, StoreError> {
    if is_wildcard(etag) {
        tracing::warn!(key, etag = %etag.0, "refusing a wildcard ETag; If-Match needs a version");
        return precondition_failed(store, key).await;
    }

    let options = BlockBlobClientUploadOptions {
        if_match: Some(Etag::from(etag.0.as_str())),
        lease_id: lease_id.clone(),
        ..Default::default()
    };
    let content = RequestContent::from(body);

    let err = match store.blob(key).block_blob_client().upload(content, Some(options)).await {
        Ok(result) => return etag_of("replace", key, result.etag),
        Err(err) => err,
    };

    let answer = Answer::of(&err);
    if let Some(mapped) = lease_failure(store, key, lease_id.as_deref(), &answer) {
        return Err(mapped);
    }
    if answer.is(412) {
        return precondition_failed(store, key).await;
    }
    Err(missing_or_unavailable("replace", key, &err))
}

/// An empty ETag or `*` would turn the update guard into "any version, or none at all".
fn is_wildcard(etag: &ETag) -> bool {
    let tag = etag.0.trim();
    tag.is_empty() || tag == "*"
}

/// 412 on `If-Match` means "stale version" or "no blob". Ask which, so a missing record is
/// `NotFound` even on an emulator that answers both the same way.
async fn precondition_failed(store: &BlobStateStore, key: &str) -> Result<ETag, StoreError> {
    match store.blob(key).exists().await {
        Ok(true) => Err(StoreError::Conflict { key: key.to_owned() }),
        Ok(false) => Err(StoreError::NotFound { key: key.to_owned() }),
        Err(err) => Err(unavailable("check existence", key, &err)),
    }
}

/// Maps the lease codes of a refused write; `None` when the failure was not about a lease.
/// A lease of ours that the service no longer honours is dropped from the lease book.
fn lease_failure(
    store: &BlobStateStore,
    key: &str,
    presented: Option<&str>,
    answer: &Answer,
) -> Option<StoreError> {
    let code = answer.code.as_deref()?;
    let forget = || {
        if let Some(id) = presented {
            store.leases.forget(key, id);
        }
    };

    match code {
        "LeaseIdMissing" => Some(StoreError::Leased { key: key.to_owned() }),
        "LeaseIdMismatchWithBlobOperation" => {
            forget();
            Some(StoreError::Leased { key: key.to_owned() })
        }
        "LeaseLost" | "LeaseNotPresentWithBlobOperation" => {
            tracing::warn!(key, code, "our lease expired; the write must be retried");
            forget();
            Some(StoreError::Conflict { key: key.to_owned() })
        }
        _ => None,
    }
}

pub(crate) async fn delete(store: &BlobStateStore, key: &str) -> Result<(), StoreError> {
    check_key("delete", key)?;

    let lease_id = store.leases.lease_for(key);
    let options = BlobClientDeleteOptions { lease_id: lease_id.clone(), ..Default::default() };
    let err = match store.blob(key).delete(Some(options)).await {
        Ok(_) => {
            if let Some(id) = &lease_id {
                store.leases.forget(key, id);
            }
            return Ok(());
        }
        Err(err) => err,
    };

    let answer = Answer::of(&err);
    if let Some(mapped) = lease_failure(store, key, lease_id.as_deref(), &answer) {
        return Err(mapped);
    }
    Err(missing_or_unavailable("delete", key, &err))
}

fn etag_of(op: &str, key: &str, etag: Option<Etag>) -> Result<ETag, StoreError> {
    match etag {
        Some(etag) => Ok(ETag(etag.to_string())),
        None => Err(unavailable_local(op, key, "the answer carried no ETag")),
    }
}

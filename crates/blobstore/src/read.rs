//! Reads: one record with its ETag, and key listing with paging.

use azure_storage_blob::models::BlobContainerClientListBlobsOptions;
use futures::TryStreamExt;
use polaris_core::ports::{ETag, StoreError, Versioned};

use crate::BlobStateStore;
use crate::error::{Answer, unavailable, unavailable_local};
use crate::keys::check_key;

/// Most names the service returns in one page.
const MAX_PAGE: usize = 5000;

pub(crate) async fn get(store: &BlobStateStore, key: &str) -> Result<Versioned, StoreError> {
    check_key("get", key)?;

    let download = match store.blob(key).download(None).await {
        Ok(download) => download,
        Err(err) => return Err(missing_or_unavailable("get", key, &err)),
    };

    let Some(etag) = download.properties.etag else {
        return Err(unavailable_local("get", key, "the answer carried no ETag"));
    };
    let body = download.body.collect().await.map_err(|err| unavailable("get body", key, &err))?;
    Ok(Versioned { body: body.to_vec(), etag: ETag(etag.to_string()) })
}

/// A missing blob is `NotFound`; a missing container is a deployment error and must not look
/// like an empty store, so it stays `Unavailable`.
pub(crate) fn missing_or_unavailable(op: &str, key: &str, err: &azure_core::Error) -> StoreError {
    let answer = Answer::of(err);
    if answer.is(404) && !answer.code_is("ContainerNotFound") {
        StoreError::NotFound { key: key.to_owned() }
    } else {
        unavailable(op, key, err)
    }
}

/// Keys under `prefix` in lexical order, strictly after `after`, at most `limit`.
///
/// `startFrom` lets the service skip to `after` (it is inclusive, hence the filter); the
/// filter alone would still be correct against a service that ignores it.
pub(crate) async fn list(
    store: &BlobStateStore,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }

    let page_size = i32::try_from(limit.saturating_add(1).min(MAX_PAGE)).unwrap_or(5000);
    let options = BlobContainerClientListBlobsOptions {
        prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
        start_from: after.map(str::to_owned),
        maxresults: Some(page_size),
        ..Default::default()
    };
    let mut items = store
        .container()
        .list_blobs(Some(options))
        .map_err(|err| unavailable("list", prefix, &err))?;

    let mut keys = Vec::with_capacity(limit.min(MAX_PAGE));
    while keys.len() < limit {
        let Some(item) = items.try_next().await.map_err(|err| unavailable("list", prefix, &err))?
        else {
            break;
        };
        let Some(name) = item.name else { continue };
        let wanted = name.starts_with(prefix) && after.is_none_or(|after| name.as_str() > after);
        if wanted {
            keys.push(name);
        }
    }
    Ok(keys)
}

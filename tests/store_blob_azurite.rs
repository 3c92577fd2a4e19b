//! The shared state-store contract against `BlobStateStore` on Azurite, and field report
//! B23 (Azurite once accepted `If-Match: *` on a missing blob): our store must be strict
//! about preconditions whatever the emulator does.

use polaris_blobstore::testing as support_azurite;

use polaris::store::contract::run_contract_suite;
use polaris_core::ports::{ETag, StateStore, StoreError, WriteCondition};

#[tokio::test]
async fn blob_store_on_azurite_passes_the_contract_suite() {
    let store = support_azurite::store("contract").await;
    // Azurite runs on real time: the lease-expiry checks need a virtual clock, so skipped.
    run_contract_suite(&store, None).await;
}

#[tokio::test]
async fn b23_if_match_on_missing_blob_is_not_found_create_twice_already_exists_stale_conflict() {
    let store = support_azurite::store("b23").await;

    // An update guard on a record that does not exist must not create it.
    let made_up = ETag("\"0x8DDDDDDDDDDDDDD\"".into());
    let missing = store.put("b23/missing", b"x".to_vec(), WriteCondition::IfMatch(made_up)).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");
    let read = store.get("b23/missing").await;
    assert!(matches!(read, Err(StoreError::NotFound { .. })), "nothing was created");

    // Create-only twice.
    let first = store.put("b23/rec", b"1".to_vec(), WriteCondition::CreateOnly).await;
    let first = first.expect("first create");
    let second = store.put("b23/rec", b"2".to_vec(), WriteCondition::CreateOnly).await;
    assert!(matches!(second, Err(StoreError::AlreadyExists { .. })), "{second:?}");

    // Update with the current ETag, then with the stale one.
    let current = store.put("b23/rec", b"3".to_vec(), WriteCondition::IfMatch(first.clone()));
    current.await.expect("update with the current ETag");
    let stale = store.put("b23/rec", b"4".to_vec(), WriteCondition::IfMatch(first)).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
    assert_eq!(store.get("b23/rec").await.expect("read").body, b"3");
}

/// The emulator itself, asked directly: `If-Match: *` on a missing blob is refused with 412
/// and creates nothing. If this fails, the pinned Azurite predates the fix (3.36.0).
#[tokio::test]
async fn b23_pinned_azurite_refuses_if_match_star_on_a_missing_blob() {
    use azure_core::http::{Etag, RequestContent};
    use azure_storage_blob::models::BlockBlobClientUploadOptions;
    use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};

    let azurite = support_azurite::azurite();
    let mut url = azurite.account_url.clone();
    url.path_segments_mut().unwrap().push(&support_azurite::unique_container("b23raw"));
    let options = BlobContainerClientOptions {
        client_options: support_azurite::client_options(azurite),
        ..Default::default()
    };
    let credential = std::sync::Arc::new(polaris_azure::LocalTokenCredential::new());
    let container = BlobContainerClient::new(url, Some(credential), Some(options)).unwrap();
    container.create(None).await.expect("container");
    let blob = container.blob_client("missing");

    let options =
        BlockBlobClientUploadOptions { if_match: Some(Etag::from("*")), ..Default::default() };
    let result = blob.upload(RequestContent::from(b"x".to_vec()), Some(options)).await;
    let status = result.err().and_then(|e| e.http_status()).map(u16::from);
    assert_eq!(status, Some(412));
    assert!(!blob.exists().await.expect("exists"), "`If-Match: *` created the blob");
}

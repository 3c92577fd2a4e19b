//! The state store against a real Azurite: the cases of the core's store contract, plus the
//! Blob-specific ones (B23 wildcard refusal, leases presented on writes).

use std::sync::Arc;

use polaris_blobstore::BlobStateStore;
use polaris_blobstore::testing as support;
use polaris_core::ports::{ETag, StateStore, StoreError, WriteCondition};

fn body(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

async fn create(store: &BlobStateStore, key: &str, text: &str) -> ETag {
    store.put(key, body(text), WriteCondition::CreateOnly).await.expect("create")
}

#[tokio::test]
async fn create_only_twice_is_already_exists_and_keeps_the_first() {
    let store = support::store("create").await;

    let etag = create(&store, "sagas/dep-1.json", "first").await;
    let second = store.put("sagas/dep-1.json", body("second"), WriteCondition::CreateOnly).await;
    assert!(
        matches!(second, Err(StoreError::AlreadyExists { ref key }) if key == "sagas/dep-1.json")
    );

    let read = store.get("sagas/dep-1.json").await.expect("get");
    assert_eq!(read.body, body("first"));
    assert_eq!(read.etag, etag);
}

#[tokio::test]
async fn stale_etag_is_conflict_and_the_winner_is_kept() {
    let store = support::store("stale").await;
    let v1 = create(&store, "k", "v1").await;

    let v2 =
        store.put("k", body("winner"), WriteCondition::IfMatch(v1.clone())).await.expect("win");
    assert_ne!(v1, v2);

    let loser = store.put("k", body("loser"), WriteCondition::IfMatch(v1)).await;
    assert!(matches!(loser, Err(StoreError::Conflict { .. })), "{loser:?}");
    let read = store.get("k").await.expect("get");
    assert_eq!((read.body, read.etag), (body("winner"), v2));
}

#[tokio::test]
async fn if_match_on_a_missing_blob_is_not_found_and_creates_nothing() {
    let store = support::store("missing").await;
    let other = support::store("elsewhere").await;
    let real_etag = create(&other, "k", "elsewhere").await;

    for etag in [real_etag, ETag("*".to_owned()), ETag(String::new())] {
        let result = store.put("k", body("x"), WriteCondition::IfMatch(etag.clone())).await;
        assert!(matches!(result, Err(StoreError::NotFound { .. })), "{etag:?}: {result:?}");
        let read = store.get("k").await;
        assert!(matches!(read, Err(StoreError::NotFound { .. })), "{etag:?} created the blob");
    }
}

#[tokio::test]
async fn a_wildcard_etag_on_an_existing_blob_is_refused_as_conflict() {
    let store = support::store("wildcard").await;
    create(&store, "k", "v1").await;

    let result = store.put("k", body("v2"), WriteCondition::IfMatch(ETag("*".to_owned()))).await;
    assert!(matches!(result, Err(StoreError::Conflict { .. })), "{result:?}");
    assert_eq!(store.get("k").await.expect("get").body, body("v1"));
}

#[tokio::test]
async fn get_and_delete_of_a_missing_key_are_not_found() {
    let store = support::store("delete").await;
    assert!(matches!(store.get("nope").await, Err(StoreError::NotFound { .. })));

    create(&store, "k", "v").await;
    store.delete("k").await.expect("delete");
    assert!(matches!(store.get("k").await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.delete("k").await, Err(StoreError::NotFound { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_read_modify_write_increments_end_at_twenty() {
    let store = Arc::new(support::store("counter").await);
    create(&store, "counter", "0").await;

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { increment(&*store, "counter").await }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.expect("task");
    }

    let read = store.get("counter").await.expect("get");
    assert_eq!(String::from_utf8(read.body).expect("utf-8"), "20");
    eprintln!("20 increments, {conflicts} conflicts retried");
}

/// Read, add one, write back with the ETag read; on `Conflict` start over. Returns how many
/// conflicts it met.
async fn increment(store: &dyn StateStore, key: &str) -> usize {
    for conflicts in 0..200 {
        let read = store.get(key).await.expect("get");
        let n: u64 = String::from_utf8(read.body).expect("utf-8").parse().expect("number");
        let next = (n + 1).to_string().into_bytes();
        match store.put(key, next, WriteCondition::IfMatch(read.etag)).await {
            Ok(_) => return conflicts,
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => panic!("increment failed: {err}"),
        }
    }
    panic!("no increment succeeded in 200 tries");
}

#[tokio::test]
async fn list_pages_by_prefix_in_lexical_order() {
    let store = support::store("list").await;
    for i in (1..=25).rev() {
        create(&store, &format!("sagas/dep-{i:02}.json"), "{}").await;
    }
    create(&store, "other/dep-00.json", "{}").await;
    create(&store, "sagas0", "{}").await;

    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list("sagas/", after.as_deref(), 10).await.expect("list");
        if page.is_empty() {
            break;
        }
        after = page.last().cloned();
        pages.push(page);
    }

    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5]);
    let all: Vec<String> = pages.concat();
    let expected: Vec<String> = (1..=25).map(|i| format!("sagas/dep-{i:02}.json")).collect();
    assert_eq!(all, expected);

    assert!(store.list("sagas/", None, 0).await.expect("list").is_empty());
    let everything = store.list("", None, 100).await.expect("list");
    assert_eq!(everything.len(), 27);
    assert_eq!(everything.first().map(String::as_str), Some("other/dep-00.json"));
    let after_middle = store.list("sagas/", Some("sagas/dep-10.json"), 2).await.expect("list");
    assert_eq!(after_middle, ["sagas/dep-11.json", "sagas/dep-12.json"]);
}

#[tokio::test]
async fn a_lease_is_exclusive_and_writes_carry_it() {
    let owner = support::store("lease").await;
    let other = support::other_store(&owner);
    let etag = create(&owner, "saga", "v1").await;

    let lease = owner.acquire_lease("saga", 15).await.expect("acquire");
    assert_eq!(lease.key, "saga");
    let again = owner.acquire_lease("saga", 15).await;
    assert!(matches!(again, Err(StoreError::Leased { .. })), "same store: {again:?}");
    let theirs = other.acquire_lease("saga", 15).await;
    assert!(matches!(theirs, Err(StoreError::Leased { .. })), "other store: {theirs:?}");

    let blocked = other.put("saga", body("intruder"), WriteCondition::IfMatch(etag.clone())).await;
    assert!(matches!(blocked, Err(StoreError::Leased { .. })), "{blocked:?}");
    assert!(matches!(other.delete("saga").await, Err(StoreError::Leased { .. })));

    let etag = owner.put("saga", body("v2"), WriteCondition::IfMatch(etag)).await.expect("owner");
    let explicit =
        other.put_leased("saga", body("v3"), WriteCondition::IfMatch(etag), &lease).await;
    let etag = explicit.expect("a write presenting the lease explicitly succeeds");
    assert_eq!(other.get("saga").await.expect("get").body, body("v3"));

    owner.release_lease(&lease).await.expect("release");
    let taken = other.acquire_lease("saga", 15).await.expect("free after release");
    let stale = owner.put("saga", body("v4"), WriteCondition::IfMatch(etag)).await;
    assert!(matches!(stale, Err(StoreError::Leased { .. })), "{stale:?}");
    assert!(matches!(owner.release_lease(&lease).await, Err(StoreError::Leased { .. })));

    other.delete("saga").await.expect("the lease holder deletes");
    other.release_lease(&taken).await.expect("releasing a lease deleted with its blob is done");
}

#[tokio::test]
async fn leases_need_an_existing_key_and_a_valid_duration() {
    let store = support::store("lease-args").await;
    let missing = store.acquire_lease("nope", 15).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })), "{missing:?}");

    create(&store, "k", "v").await;
    for seconds in [0, 14, 61, 3600] {
        let result = store.acquire_lease("k", seconds).await;
        assert!(matches!(result, Err(StoreError::Unavailable { .. })), "{seconds}: {result:?}");
    }
    let lease = store.acquire_lease("k", 60).await.expect("60 s is allowed");
    store.release_lease(&lease).await.expect("release");
}

#[tokio::test]
async fn ensure_container_is_idempotent() {
    let store = support::store("ensure").await;
    store.ensure_container().await.expect("second ensure is fine");
}

/// Takes 16 s: a lease's shortest life is 15 s.
#[tokio::test]
async fn an_expired_lease_is_dropped_and_the_write_retried_without_it() {
    let owner = support::store("expiry").await;
    let other = support::other_store(&owner);
    let etag = create(&owner, "saga", "v1").await;
    let lease = owner.acquire_lease("saga", 15).await.expect("acquire");
    tokio::time::sleep(std::time::Duration::from_secs(16)).await;

    let expired = owner.put("saga", body("v2"), WriteCondition::IfMatch(etag.clone())).await;
    assert!(matches!(expired, Err(StoreError::Conflict { .. })), "{expired:?}");
    let retried = owner.put("saga", body("v2"), WriteCondition::IfMatch(etag)).await;
    let etag = retried.expect("the retry goes without the dropped lease");

    other.put("saga", body("v3"), WriteCondition::IfMatch(etag)).await.expect("unleased");
    owner.release_lease(&lease).await.expect("releasing a cleared lease is done");
    let taken = other.acquire_lease("saga", 15).await.expect("free");
    let late = owner.release_lease(&lease).await;
    assert!(matches!(late, Err(StoreError::Leased { .. })), "{late:?}");
    other.release_lease(&taken).await.expect("release");
}

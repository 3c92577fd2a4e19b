//! The behaviour every [`StateStore`] must show, as one suite any implementation can run.
//!
//! The saga relies on these rules for exactly-one ownership and lost-update freedom (B17,
//! B23), so the memory store, the disk store and the Blob Storage adapter all run the same
//! checks. Call [`run_contract_suite`] from a `#[tokio::test]`; it panics on the first
//! broken rule with a message naming it.
//!
//! Every run works under a fresh random prefix, so it can share a container with other
//! runs and needs no cleanup between them.

use std::time::Duration;

use futures::future::join_all;
use polaris_core::ports::{ETag, StateStore, StoreError, WriteCondition};

use crate::clock::VirtualClock;

/// Concurrent read-modify-write increments in the lost-update check.
pub const CONCURRENT_WRITERS: u64 = 20;

/// Runs every check against `store`.
///
/// Pass the [`VirtualClock`] the store reads when you control it; lease-expiry checks are
/// skipped with `None` (a store on a real clock, e.g. Azurite), since waiting out a 15 s
/// lease has no place in a test.
pub async fn run_contract_suite(store: &dyn StateStore, clock: Option<&VirtualClock>) {
    let ns = format!("contract-{}", uuid::Uuid::new_v4().simple());

    create_then_get_round_trips(store, &ns).await;
    create_only_twice_is_already_exists(store, &ns).await;
    every_write_changes_the_etag(store, &ns).await;
    stale_etag_is_conflict_and_keeps_the_winner(store, &ns).await;
    if_match_on_missing_is_not_found_and_never_creates(store, &ns).await;
    delete_then_recreate_invalidates_old_etags(store, &ns).await;
    concurrent_increments_lose_nothing(store, &ns).await;
    list_pages_in_lexical_order(store, &ns).await;
    lease_is_exclusive_until_released(store, &ns).await;
    if let Some(clock) = clock {
        expired_lease_can_be_taken_over(store, clock, &ns).await;
        write_after_own_lease_lapsed_is_conflict_once(store, clock, &ns).await;
    }
}

/// Creates `key` with `body`, panicking if that fails.
async fn create(store: &dyn StateStore, key: &str, body: &[u8]) -> ETag {
    match store.put(key, body.to_vec(), WriteCondition::CreateOnly).await {
        Ok(etag) => etag,
        Err(err) => panic!("creating `{key}` failed: {err}"),
    }
}

async fn body_of(store: &dyn StateStore, key: &str) -> Vec<u8> {
    match store.get(key).await {
        Ok(doc) => doc.body,
        Err(err) => panic!("reading `{key}` failed: {err}"),
    }
}

pub async fn create_then_get_round_trips(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/round-trip");
    let body = b"{\"a\":1}\nsecond line\0\xff".to_vec();

    let etag = create(store, &key, &body).await;

    let doc = store.get(&key).await.expect("get after create");
    assert_eq!(doc.body, body, "get must return the bytes written, newlines and all");
    assert_eq!(doc.etag, etag, "get must return the ETag the write returned");
    assert!(!etag.0.is_empty(), "an ETag must not be empty");
}

pub async fn create_only_twice_is_already_exists(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/create-twice");
    create(store, &key, b"first").await;

    let second = store.put(&key, b"second".to_vec(), WriteCondition::CreateOnly).await;

    assert!(
        matches!(second, Err(StoreError::AlreadyExists { .. })),
        "second CreateOnly must fail with AlreadyExists, got {second:?}"
    );
    assert_eq!(body_of(store, &key).await, b"first", "a refused create must not overwrite");
}

pub async fn every_write_changes_the_etag(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/etag-changes");
    let first = create(store, &key, b"same").await;

    let second = store.put(&key, b"same".to_vec(), WriteCondition::IfMatch(first.clone())).await;

    let second = second.expect("If-Match with the current ETag must succeed");
    assert_ne!(first, second, "rewriting identical content must still change the ETag");
    assert_eq!(store.get(&key).await.expect("get").etag, second);
}

pub async fn stale_etag_is_conflict_and_keeps_the_winner(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/stale");
    let read_by_both = create(store, &key, b"0").await;

    let fresh = WriteCondition::IfMatch(read_by_both.clone());
    let winner = store.put(&key, b"winner".to_vec(), fresh).await;
    let winner = winner.expect("first writer with a fresh ETag must succeed");
    let loser = store.put(&key, b"loser".to_vec(), WriteCondition::IfMatch(read_by_both)).await;

    assert!(
        matches!(loser, Err(StoreError::Conflict { .. })),
        "a write with a stale ETag must fail with Conflict, got {loser:?}"
    );
    let doc = store.get(&key).await.expect("get");
    assert_eq!(doc.body, b"winner", "the winner's content must survive the loser's attempt");
    assert_eq!(doc.etag, winner);
}

pub async fn if_match_on_missing_is_not_found_and_never_creates(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/missing");
    let made_up = ETag("0x0000000000000001".to_owned());

    let put = store.put(&key, b"ghost".to_vec(), WriteCondition::IfMatch(made_up)).await;

    assert!(
        matches!(put, Err(StoreError::NotFound { .. })),
        "If-Match on a missing key must fail with NotFound (B23), got {put:?}"
    );
    let get = store.get(&key).await;
    assert!(matches!(get, Err(StoreError::NotFound { .. })), "it must not create: {get:?}");
}

pub async fn delete_then_recreate_invalidates_old_etags(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/deleted");
    let old = create(store, &key, b"old").await;

    store.delete(&key).await.expect("delete of an existing key");

    let get = store.get(&key).await;
    assert!(matches!(get, Err(StoreError::NotFound { .. })), "deleted key still readable");
    let again = store.delete(&key).await;
    assert!(
        matches!(again, Err(StoreError::NotFound { .. })),
        "deleting a missing key must fail with NotFound, got {again:?}"
    );

    create(store, &key, b"new").await;
    let stale = store.put(&key, b"stale".to_vec(), WriteCondition::IfMatch(old)).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "an ETag from before a delete must not match the re-created document, got {stale:?}"
    );
}

pub async fn concurrent_increments_lose_nothing(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/counter");
    create(store, &key, b"0").await;

    let writers = (0..CONCURRENT_WRITERS).map(|_| increment_with_retry(store, &key));
    join_all(writers).await;

    let value = String::from_utf8(body_of(store, &key).await).expect("counter is text");
    assert_eq!(
        value,
        CONCURRENT_WRITERS.to_string(),
        "{CONCURRENT_WRITERS} read-modify-write increments with retry must all land"
    );
}

/// Reads the counter, yields so other writers interleave, writes it back plus one, and
/// starts over on `Conflict`.
async fn increment_with_retry(store: &dyn StateStore, key: &str) {
    loop {
        let doc = store.get(key).await.expect("read counter");
        let value: u64 = String::from_utf8_lossy(&doc.body).parse().expect("counter is a number");

        tokio::task::yield_now().await;

        let next = (value + 1).to_string().into_bytes();
        match store.put(key, next, WriteCondition::IfMatch(doc.etag)).await {
            Ok(_) => return,
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => panic!("increment failed with {err}"),
        }
    }
}

pub async fn list_pages_in_lexical_order(store: &dyn StateStore, ns: &str) {
    let base = format!("{ns}/list");
    let mut expected: Vec<String> = (0..7).map(|i| format!("{base}/k{i:02}")).collect();
    expected.push(format!("{base}/k03/child"));
    expected.push(format!("{base}/sub/deeper/leaf"));
    for key in expected.iter().rev() {
        create(store, key, b"x").await;
    }
    create(store, &format!("{base}-sibling/k00"), b"x").await;
    create(store, &format!("{base}x"), b"x").await;
    expected.sort();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list(&format!("{base}/"), after.as_deref(), 3).await.expect("list");
        assert!(page.len() <= 3, "a page must respect the limit, got {page:?}");
        let Some(last) = page.last().cloned() else { break };
        seen.extend(page);
        after = Some(last);
    }

    assert_eq!(seen, expected, "paging must return every key under the prefix once, sorted");
    let narrow = store.list(&format!("{base}/k0"), Some(&format!("{base}/k05")), 10).await;
    let narrow = narrow.expect("list with a partial-segment prefix");
    assert_eq!(narrow, vec![format!("{base}/k06")]);
    let none = store.list(&format!("{base}/"), None, 0).await.expect("list with limit 0");
    assert!(none.is_empty(), "limit 0 must return nothing");
}

pub async fn lease_is_exclusive_until_released(store: &dyn StateStore, ns: &str) {
    let key = format!("{ns}/leased");
    let missing = store.acquire_lease(&format!("{ns}/no-such-key"), 15).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "leasing a missing key must fail with NotFound, got {missing:?}"
    );
    let etag = create(store, &key, b"owned").await;

    let lease = store.acquire_lease(&key, 60).await.expect("first lease");
    let second = store.acquire_lease(&key, 60).await;

    assert_eq!(lease.key, key);
    assert!(
        matches!(second, Err(StoreError::Leased { .. })),
        "a second lease while the first is held must fail with Leased, got {second:?}"
    );
    let write = store.put(&key, b"by holder".to_vec(), WriteCondition::IfMatch(etag)).await;
    assert!(write.is_ok(), "the lease holder must be able to write: {write:?}");

    store.release_lease(&lease).await.expect("release");
    store.release_lease(&lease).await.expect("releasing twice is harmless");
    let next = store.acquire_lease(&key, 15).await.expect("lease after release");
    assert_ne!(next.id, lease.id, "every lease gets a fresh id");
    store.release_lease(&next).await.expect("release");
}

pub async fn expired_lease_can_be_taken_over(
    store: &dyn StateStore,
    clock: &VirtualClock,
    ns: &str,
) {
    let key = format!("{ns}/expiring");
    create(store, &key, b"owned").await;
    let first = store.acquire_lease(&key, 15).await.expect("first lease");

    clock.advance(Duration::from_secs(14));
    let early = store.acquire_lease(&key, 15).await;
    assert!(
        matches!(early, Err(StoreError::Leased { .. })),
        "a lease must hold until it expires, got {early:?}"
    );

    clock.advance(Duration::from_secs(1));
    let second = store.acquire_lease(&key, 15).await.expect("takeover at expiry");

    assert_ne!(second.id, first.id);
    let stale_release = store.release_lease(&first).await;
    assert!(
        matches!(stale_release, Err(StoreError::Leased { .. })),
        "the former holder must learn it lost the lease, got {stale_release:?}"
    );
    let third = store.acquire_lease(&key, 15).await;
    assert!(matches!(third, Err(StoreError::Leased { .. })), "the takeover lease is exclusive");
    store.release_lease(&second).await.expect("release by the new holder");
}

/// The holder's first write after its lease expired fails with `Conflict`, so the saga
/// notices it may have lost ownership; re-reading and retrying succeeds without the lease.
pub async fn write_after_own_lease_lapsed_is_conflict_once(
    store: &dyn StateStore,
    clock: &VirtualClock,
    ns: &str,
) {
    let key = format!("{ns}/lapsed");
    let etag = create(store, &key, b"v1").await;
    store.acquire_lease(&key, 15).await.expect("lease");

    clock.advance(Duration::from_secs(16));
    let late = store.put(&key, b"late".to_vec(), WriteCondition::IfMatch(etag)).await;

    assert!(
        matches!(late, Err(StoreError::Conflict { .. })),
        "a write relying on a lapsed lease must fail with Conflict, got {late:?}"
    );
    let doc = store.get(&key).await.expect("re-read");
    assert_eq!(doc.body, b"v1", "the refused write must change nothing");
    let retry = store.put(&key, b"v2".to_vec(), WriteCondition::IfMatch(doc.etag)).await;
    assert!(retry.is_ok(), "the retry after re-reading must succeed: {retry:?}");
}

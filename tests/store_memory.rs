//! The in-memory state store passes the shared contract and refuses what Azure refuses.

use std::sync::Arc;

use polaris::clock::{Clock, SystemClock, VirtualClock};
use polaris::store::MemoryStore;
use polaris::store::contract::run_contract_suite;
use polaris_core::ports::{StateStore, StoreError, WriteCondition};

fn store_on(clock: &Arc<VirtualClock>) -> MemoryStore {
    let clock: Arc<dyn Clock> = clock.clone();
    MemoryStore::new(clock)
}

#[tokio::test]
async fn memory_store_passes_the_contract_with_virtual_time() {
    let clock = Arc::new(VirtualClock::new());
    let store = store_on(&clock);

    run_contract_suite(&store, Some(&clock)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_passes_the_contract_on_a_real_clock() {
    let store = MemoryStore::new(Arc::new(SystemClock));

    run_contract_suite(&store, None).await;
}

#[tokio::test]
async fn lease_durations_outside_blob_storage_limits_are_refused() {
    let clock = Arc::new(VirtualClock::new());
    let store = store_on(&clock);
    store.put("doc", b"x".to_vec(), WriteCondition::CreateOnly).await.expect("create");

    let short = store.acquire_lease("doc", 14).await;
    let long = store.acquire_lease("doc", 61).await;

    assert!(matches!(short, Err(StoreError::Unavailable { .. })), "{short:?}");
    assert!(matches!(long, Err(StoreError::Unavailable { .. })), "{long:?}");
    assert!(store.acquire_lease("doc", 15).await.is_ok(), "refusals must not leave a lease");
}

#[tokio::test]
async fn keys_that_could_not_live_on_disk_are_refused_here_too() {
    let store = store_on(&Arc::new(VirtualClock::new()));

    for key in ["", "a//b", "../escape", "a/.hidden", "tilde~doc", "space here"] {
        let put = store.put(key, b"x".to_vec(), WriteCondition::CreateOnly).await;
        assert!(matches!(put, Err(StoreError::Unavailable { .. })), "{key:?} gave {put:?}");
    }
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_thousand_deployments_list_completely_in_pages() {
    let store = store_on(&Arc::new(VirtualClock::new()));
    for i in 0..1000 {
        let key = format!("deployments/polaris-{i:04}/state");
        store.put(&key, b"{}".to_vec(), WriteCondition::CreateOnly).await.expect("create");
    }

    let mut listed = Vec::new();
    loop {
        let after = listed.last().map(String::as_str);
        let page = store.list("deployments/", after, 128).await.expect("list");
        if page.is_empty() {
            break;
        }
        listed.extend(page);
    }

    assert_eq!(listed.len(), 1000);
    assert_eq!(listed[0], "deployments/polaris-0000/state");
    assert_eq!(listed[999], "deployments/polaris-0999/state");
    assert!(listed.windows(2).all(|pair| pair[0] < pair[1]), "keys come sorted, once each");
}

#[tokio::test]
async fn etags_are_never_reused_across_keys() {
    let store = store_on(&Arc::new(VirtualClock::new()));

    let a = store.put("a", b"same".to_vec(), WriteCondition::CreateOnly).await.expect("a");
    let b = store.put("b", b"same".to_vec(), WriteCondition::CreateOnly).await.expect("b");

    assert_ne!(a, b);
    let cross = store.put("b", b"new".to_vec(), WriteCondition::IfMatch(a)).await;
    assert!(matches!(cross, Err(StoreError::Conflict { .. })), "{cross:?}");
}

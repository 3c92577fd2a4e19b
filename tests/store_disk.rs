//! The local-disk state store: the shared contract, persistence across instances, the file
//! layout, and lost-update freedom between processes sharing one directory.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use polaris::clock::{Clock, SystemClock, VirtualClock};
use polaris::store::LocalDiskStore;
use polaris::store::contract::run_contract_suite;
use polaris_core::ports::{StateStore, StoreError, WriteCondition};

/// Set for the child processes of the cross-process test; names the store directory.
const CHILD_DIR_ENV: &str = "POLARIS_TEST_STORE_CHILD_DIR";

/// Increments each child process performs.
const CHILD_INCREMENTS: u64 = 15;

const CHILDREN: u64 = 3;

fn open(dir: &Path, clock: Arc<dyn Clock>) -> LocalDiskStore {
    LocalDiskStore::new(dir, clock).expect("open store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_store_passes_the_contract_with_virtual_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(VirtualClock::new());
    let store = open(dir.path(), clock.clone());

    run_contract_suite(&store, Some(&clock)).await;
}

#[tokio::test]
async fn disk_store_passes_the_contract_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Arc::new(SystemClock));

    run_contract_suite(&store, None).await;
}

#[tokio::test]
async fn documents_and_leases_survive_reopening_the_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let first = open(dir.path(), clock.clone());
    let etag = first.put("deployments/d1", b"v1".to_vec(), WriteCondition::CreateOnly).await;
    let etag = etag.expect("create");
    let lease = first.acquire_lease("deployments/d1", 30).await.expect("lease");
    drop(first);

    let second = open(dir.path(), clock);

    let doc = second.get("deployments/d1").await.expect("get after reopen");
    assert_eq!(doc.body, b"v1");
    assert_eq!(doc.etag, etag);
    let contender = second.acquire_lease("deployments/d1", 30).await;
    assert!(matches!(contender, Err(StoreError::Leased { .. })), "{contender:?}");
    second.release_lease(&lease).await.expect("the lease id works from any instance");
}

#[tokio::test]
async fn a_lease_taken_by_one_instance_blocks_writes_through_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new());
    let owner = open(dir.path(), clock.clone());
    let other = open(dir.path(), clock);
    let etag = owner.put("saga", b"v1".to_vec(), WriteCondition::CreateOnly).await.unwrap();
    let lease = owner.acquire_lease("saga", 60).await.expect("lease");

    let foreign_put = other.put("saga", b"x".to_vec(), WriteCondition::IfMatch(etag.clone()));
    let foreign_put = foreign_put.await;
    let foreign_delete = other.delete("saga").await;
    let owner_put = owner.put("saga", b"v2".to_vec(), WriteCondition::IfMatch(etag)).await;

    assert!(matches!(foreign_put, Err(StoreError::Leased { .. })), "{foreign_put:?}");
    assert!(matches!(foreign_delete, Err(StoreError::Leased { .. })), "{foreign_delete:?}");
    let owner_put = owner_put.expect("the holder writes through the lease");
    owner.release_lease(&lease).await.expect("release");
    let after = other.put("saga", b"v3".to_vec(), WriteCondition::IfMatch(owner_put)).await;
    assert!(after.is_ok(), "released: anyone may write again: {after:?}");
}

#[tokio::test]
async fn a_key_and_keys_below_it_coexist_as_file_and_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Arc::new(SystemClock));

    store.put("d1", b"parent".to_vec(), WriteCondition::CreateOnly).await.expect("parent");
    store.put("d1/history/1", b"child".to_vec(), WriteCondition::CreateOnly).await.expect("child");

    assert!(dir.path().join("d1~doc").is_file());
    assert!(dir.path().join("d1/history/1~doc").is_file());
    assert_eq!(store.get("d1").await.expect("parent").body, b"parent");
    assert_eq!(store.get("d1/history/1").await.expect("child").body, b"child");
}

#[tokio::test]
async fn stray_lock_and_temporary_files_are_not_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Arc::new(SystemClock));
    store.put("d/a", b"x".to_vec(), WriteCondition::CreateOnly).await.expect("create");
    std::fs::write(dir.path().join("d/b~doc~tmp-0123"), b"half written").expect("stray temp");
    std::fs::write(dir.path().join("d/c~lock"), b"").expect("stray lock");

    let keys = store.list("d/", None, 10).await.expect("list");

    assert_eq!(keys, vec!["d/a".to_owned()]);
}

#[tokio::test]
async fn update_of_a_missing_key_leaves_no_directory_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path(), Arc::new(SystemClock));
    let made_up = polaris_core::ports::ETag("1-0".to_owned());

    let put = store.put("ghost/doc", b"x".to_vec(), WriteCondition::IfMatch(made_up)).await;

    assert!(matches!(put, Err(StoreError::NotFound { .. })), "{put:?}");
    assert!(!dir.path().join("ghost").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_directory_lose_no_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let a = open(dir.path(), clock.clone());
    let b = open(dir.path(), clock);
    a.put("counter", b"0".to_vec(), WriteCondition::CreateOnly).await.expect("create");

    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { increment(&store, "counter", 3).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("increment task");
    }

    assert_eq!(a.get("counter").await.expect("read").body, b"30");
}

/// Runs only inside the child processes started by
/// `writers_in_separate_processes_lose_no_update`; a no-op in a normal test run.
#[tokio::test]
async fn child_process_increments() {
    let Ok(dir) = std::env::var(CHILD_DIR_ENV) else { return };
    let store = open(Path::new(&dir), Arc::new(SystemClock));

    increment(&store, "counter", CHILD_INCREMENTS).await;
}

#[test]
fn writers_in_separate_processes_lose_no_update() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = open(dir.path(), Arc::new(SystemClock));
    runtime.block_on(store.put("counter", b"0".to_vec(), WriteCondition::CreateOnly)).unwrap();
    let this_test_binary = std::env::current_exe().expect("test binary path");

    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(&this_test_binary)
                .args(["--exact", "child_process_increments", "--test-threads=1", "--quiet"])
                .env(CHILD_DIR_ENV, dir.path())
                .spawn()
                .expect("spawn child test process")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait for child").success(), "a child process failed");
    }

    let doc = runtime.block_on(store.get("counter")).expect("read counter");
    assert_eq!(String::from_utf8_lossy(&doc.body), (CHILDREN * CHILD_INCREMENTS).to_string());
}

/// Read-modify-write with retry on `Conflict`, `times` times.
async fn increment(store: &LocalDiskStore, key: &str, times: u64) {
    for _ in 0..times {
        loop {
            let doc = store.get(key).await.expect("read counter");
            let value: u64 = String::from_utf8_lossy(&doc.body).parse().expect("a number");
            tokio::task::yield_now().await;

            let next = (value + 1).to_string().into_bytes();
            match store.put(key, next, WriteCondition::IfMatch(doc.etag)).await {
                Ok(_) => break,
                Err(StoreError::Conflict { .. }) => continue,
                Err(err) => panic!("increment failed: {err}"),
            }
        }
    }
}

//! Secret stores: values round-trip, teardown removes them, files are owner-only, and no
//! value leaks through `Debug`.

use std::sync::Arc;

use polaris::secrets::{LocalSecretStore, MemorySecretStore};
use polaris_core::ports::{SecretError, SecretStore};

const DEPLOYMENT: &str = "polaris-demo-0a1b2c3d";

/// The behaviour both stores share.
async fn check_secret_store(store: &dyn SecretStore) {
    store.put(DEPLOYMENT, "registry-password", "hunter2").await.expect("put");
    store.put(DEPLOYMENT, "env/API_KEY", "sk-123").await.expect("put second");
    store.put("polaris-other-00000001", "registry-password", "other").await.expect("put other");
    store.put(DEPLOYMENT, "registry-password", "hunter3").await.expect("overwrite");

    assert_eq!(store.get(DEPLOYMENT, "registry-password").await.expect("get"), "hunter3");
    assert_eq!(store.get(DEPLOYMENT, "env/API_KEY").await.expect("get"), "sk-123");
    let missing = store.get(DEPLOYMENT, "nope").await;
    assert!(matches!(missing, Err(SecretError::Missing { .. })), "{missing:?}");

    store.delete_all(DEPLOYMENT).await.expect("teardown");

    let gone = store.get(DEPLOYMENT, "env/API_KEY").await;
    assert!(matches!(gone, Err(SecretError::Missing { .. })), "{gone:?}");
    assert_eq!(store.get("polaris-other-00000001", "registry-password").await.unwrap(), "other");
    store.delete_all(DEPLOYMENT).await.expect("teardown twice is harmless");
    store.delete_all("polaris-never-00000002").await.expect("teardown of unknown deployment");

    let bad = store.put("../escape", "k", "v").await;
    assert!(matches!(bad, Err(SecretError::Unavailable { .. })), "{bad:?}");
}

#[tokio::test]
async fn memory_secret_store_round_trips_and_tears_down() {
    let store = MemorySecretStore::new();

    check_secret_store(&store).await;

    assert_eq!(store.deployments(), 1, "only the other deployment is left");
}

#[tokio::test]
async fn local_secret_store_round_trips_and_tears_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = LocalSecretStore::new(dir.path().join("secrets")).expect("open");

    check_secret_store(&store).await;

    assert!(!store.file_of(DEPLOYMENT).exists(), "teardown removes the deployment's file");
    assert!(store.file_of("polaris-other-00000001").exists());
}

#[tokio::test]
async fn secrets_persist_across_instances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = LocalSecretStore::new(dir.path()).expect("open");
    first.put(DEPLOYMENT, "registry-password", "hunter2").await.expect("put");

    let second = LocalSecretStore::new(dir.path()).expect("reopen");

    assert_eq!(second.get(DEPLOYMENT, "registry-password").await.unwrap(), "hunter2");
}

#[cfg(unix)]
#[tokio::test]
async fn secret_files_and_their_directory_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("secrets");
    let store = LocalSecretStore::new(&root).expect("open");

    store.put(DEPLOYMENT, "registry-password", "hunter2").await.expect("put");
    store.put(DEPLOYMENT, "env/API_KEY", "sk-123").await.expect("rewrite keeps the mode");

    let file_mode = std::fs::metadata(store.file_of(DEPLOYMENT)).unwrap().permissions().mode();
    let dir_mode = std::fs::metadata(&root).unwrap().permissions().mode();
    assert_eq!(file_mode & 0o777, 0o600);
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_to_one_deployment_keep_every_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(LocalSecretStore::new(dir.path()).expect("open"));

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.put(DEPLOYMENT, &format!("k{i}"), "v").await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("put");
    }

    for i in 0..20 {
        assert_eq!(store.get(DEPLOYMENT, &format!("k{i}")).await.expect("get"), "v");
    }
}

#[tokio::test]
async fn debug_output_never_shows_a_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalSecretStore::new(dir.path()).expect("open");
    let memory = MemorySecretStore::new();
    local.put(DEPLOYMENT, "registry-password", "hunter2").await.expect("put");
    memory.put(DEPLOYMENT, "registry-password", "hunter2").await.expect("put");

    let shown = format!("{local:?} {memory:?}");

    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("deployments: 1"), "{shown}");
}

//! Test support, for this crate's tests and the root package's: a real Azurite (blob service
//! only) over HTTPS with OAuth, started once per test binary, plus store factories and the
//! token credential Azurite accepts. One launcher serves both, so a fix to how Azurite is
//! found, started or checked (B23) reaches every test that uses it. Compiled only with the
//! `test-azurite` feature, so production builds carry none of it.
//!
//! Azurite is taken from, in order: `AZURITE_BLOB_URL` (+ `AZURITE_CA_CERT`, the PEM of the
//! CA its certificate chains to) for an instance that is already running; else the
//! `azurite-blob` executable at `AZURITE_BIN`, or at `node_modules/.bin/azurite-blob` in the
//! repository root (`npm install azurite@3.37.0` there, as `scripts/setup.sh` does). Without
//! either the tests fail with that instruction: they never pretend Azurite ran.

mod azurite;
mod credential;
mod pki;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::BlobStateStore;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};

pub use azurite::{Azurite, azurite};
pub use credential::StorageTestCredential;

/// Client options for Azurite: a transport that trusts only its CA and ignores proxy
/// variables, and short retries, so a misconfiguration fails fast instead of looking like a
/// hang.
pub fn client_options(azurite: &Azurite) -> ClientOptions {
    let ca = reqwest::Certificate::from_pem(azurite.ca_pem.as_bytes()).expect("CA PEM parses");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .no_gzip()
        .no_deflate()
        .build()
        .expect("reqwest client builds");

    let retry = ExponentialRetryOptions {
        initial_delay: time::Duration::milliseconds(50),
        max_retries: 2,
        max_total_elapsed: time::Duration::seconds(5),
        max_delay: time::Duration::milliseconds(500),
    };
    ClientOptions {
        transport: Some(Transport::new(Arc::new(client))),
        retry: RetryOptions::exponential(retry),
        ..Default::default()
    }
}

/// A container name no other test of this run uses.
pub fn unique_container(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{n}", std::process::id())
}

/// A store on a fresh container of the shared Azurite, container created.
pub async fn store(tag: &str) -> BlobStateStore {
    store_on(&unique_container(tag)).await
}

/// A store on `container` of the shared Azurite, container created if missing: the root
/// package's tests hand a container to `polaris serve` and then read what it wrote.
pub async fn store_on(container: &str) -> BlobStateStore {
    let azurite = azurite();
    let store = BlobStateStore::new(
        azurite.account_url.clone(),
        container,
        Arc::new(StorageTestCredential),
        client_options(azurite),
    )
    .expect("store builds");
    store.ensure_container().await.expect("container can be created");
    store
}

/// A second store on the same container, as another process would have.
pub fn other_store(store: &BlobStateStore) -> BlobStateStore {
    let azurite = azurite();
    let container = store.container_url().path_segments().and_then(|mut s| s.next_back());
    BlobStateStore::new(
        azurite.account_url.clone(),
        container.expect("container URL has a path"),
        Arc::new(StorageTestCredential),
        client_options(azurite),
    )
    .expect("store builds")
}

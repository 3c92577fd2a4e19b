//! Azurite's blob service for the root crate's tests: HTTPS with `--oauth basic`, started
//! once per test binary under a supervisor that stops it when the binary exits.
//!
//! The approach is the blobstore crate's (`crates/blobstore/tests/support`), whose CA/leaf
//! generator is reused as is; its launcher looks for Azurite relative to that crate, so the
//! root crate has this one. Azurite comes from `AZURITE_BIN` or the repository's
//! `node_modules/.bin/azurite-blob` (`scripts/setup.sh` installs it); without either the
//! tests fail with that instruction rather than pretend.

#![allow(dead_code)]

#[path = "../../crates/blobstore/tests/support/pki.rs"]
mod pki;

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use polaris_azure::LocalTokenCredential;
use polaris_blobstore::BlobStateStore;
use url::Url;

/// Node start-up on a busy 2-core machine is slow.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Azurite {
    /// `https://127.0.0.1:<port>/devstoreaccount1`, no trailing slash.
    pub account_url: Url,
    pub ca_pem: String,
    _supervisor: Mutex<(Child, ChildStdin)>,
}

pub fn azurite() -> &'static Azurite {
    static AZURITE: OnceLock<Azurite> = OnceLock::new();
    AZURITE.get_or_init(start)
}

fn azurite_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("AZURITE_BIN") {
        return PathBuf::from(bin);
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "Azurite not found at {}: run scripts/setup.sh (npm install azurite@3.37.0 in the \
         repository root) or set AZURITE_BIN to an azurite-blob executable",
        bin.display()
    );
    bin
}

fn start() -> Azurite {
    let bin = azurite_bin();
    let dir = tempfile::Builder::new().prefix("polaris-serve-azurite-").tempdir().unwrap();
    let dir = dir.keep();
    let pki = pki::generate();
    std::fs::write(dir.join("cert.pem"), &pki.leaf_pem).expect("write cert");
    std::fs::write(dir.join("key.pem"), &pki.leaf_key_pem).expect("write key");
    let port = {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        listener.local_addr().unwrap().port()
    };

    // The supervisor stops Azurite when our end of its stdin closes, however we exit.
    let supervisor = r#"
        "$0" "$@" >"$AZURITE_LOG" 2>&1 &
        child=$!
        cat >/dev/null
        kill "$child" 2>/dev/null
        wait "$child" 2>/dev/null
        rm -rf "$AZURITE_DIR"
    "#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(supervisor)
        .arg(&bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--oauth", "basic", "--cert", "cert.pem", "--key", "key.pem"])
        .args(["--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry"])
        .arg("--silent")
        .current_dir(&dir)
        .env("AZURITE_LOG", dir.join("azurite.log"))
        .env("AZURITE_DIR", &dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdin = child.stdin.take().expect("piped stdin");

    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("azurite.log")).unwrap_or_default();
            panic!("Azurite did not listen on {addr} within {START_TIMEOUT:?}:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let account_url = Url::parse(&format!("https://127.0.0.1:{port}/devstoreaccount1")).unwrap();
    Azurite { account_url, ca_pem: pki.ca_pem, _supervisor: Mutex::new((child, stdin)) }
}

/// Trusts only Azurite's CA, ignores proxies, retries briefly: a misconfiguration fails
/// fast instead of looking like a hang.
pub fn client_options(azurite: &Azurite) -> ClientOptions {
    let ca = reqwest::Certificate::from_pem(azurite.ca_pem.as_bytes()).expect("CA PEM");
    let client =
        reqwest::Client::builder().tls_certs_only([ca]).no_proxy().build().expect("client");
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

pub fn unique_container(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{n}", std::process::id())
}

/// A store on a fresh container, authenticated with the local (unsigned) token, which
/// Azurite's `--oauth basic` accepts.
pub async fn store(tag: &str) -> BlobStateStore {
    store_on(&unique_container(tag)).await
}

/// Another store on `container`, as a second process would have.
pub async fn store_on(container: &str) -> BlobStateStore {
    let azurite = azurite();
    let store = BlobStateStore::new(
        azurite.account_url.clone(),
        container,
        Arc::new(LocalTokenCredential::new()),
        client_options(azurite),
    )
    .expect("store builds");
    store.ensure_container().await.expect("container can be created");
    store
}

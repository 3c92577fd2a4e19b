//! Finds or starts Azurite's blob service for this test binary, once, and checks that its
//! conditional-write semantics match Azure's before any test relies on them (B23).

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use azure_core::http::{Etag, RequestContent};
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::BlobContainerClientOptions;
use azure_storage_blob::models::BlockBlobClientUploadOptions;
use url::Url;

use super::{StorageTestCredential, client_options, pki, unique_container};

/// How long Azurite may take to listen; node start-up on a busy 2-core machine is slow.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Azurite {
    /// `https://127.0.0.1:<port>/devstoreaccount1`, no trailing slash.
    pub account_url: Url,
    /// The CA Azurite's certificate chains to.
    pub ca_pem: String,
    /// `azurite-blob --version`, or `external` for `AZURITE_BLOB_URL`.
    pub version: String,
    /// Closing this pipe (at process exit) makes the supervisor stop Azurite.
    _supervisor: Option<Mutex<(Child, ChildStdin)>>,
}

/// The Azurite of this test binary; the first caller starts it and runs the conformance
/// check, the others wait for that.
pub fn azurite() -> &'static Azurite {
    static AZURITE: OnceLock<Azurite> = OnceLock::new();
    AZURITE.get_or_init(|| {
        let azurite = external().unwrap_or_else(start);
        eprintln!("Azurite {} at {}", azurite.version, azurite.account_url);
        conformance_on_own_runtime(&azurite);
        azurite
    })
}

fn external() -> Option<Azurite> {
    let url = std::env::var("AZURITE_BLOB_URL").ok()?;
    let account_url = Url::parse(url.trim_end_matches('/')).expect("AZURITE_BLOB_URL is a URL");
    let ca_path = std::env::var("AZURITE_CA_CERT").expect(
        "AZURITE_BLOB_URL needs AZURITE_CA_CERT: the PEM of the CA Azurite's cert chains to",
    );
    let ca_pem = std::fs::read_to_string(&ca_path).expect("AZURITE_CA_CERT is readable");
    Some(Azurite { account_url, ca_pem, version: "external".to_owned(), _supervisor: None })
}

/// `AZURITE_BIN`, else `node_modules/.bin/azurite-blob` in the first folder that has one,
/// walking up from the caller's package (`CARGO_MANIFEST_DIR` as cargo sets it for the
/// test run), from the current folder, and from this crate: this code runs for tests of
/// both `crates/blobstore` and the root package, so no fixed `../..` fits every caller.
fn azurite_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("AZURITE_BIN") {
        return PathBuf::from(bin);
    }
    let starts = [
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
        std::env::current_dir().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    let relative = Path::new("node_modules/.bin/azurite-blob");
    let found = starts
        .iter()
        .flatten()
        .flat_map(|start| start.ancestors())
        .map(|dir| dir.join(relative))
        .find(|bin| bin.exists());
    found.unwrap_or_else(|| {
        panic!(
            "Azurite not found: no node_modules/.bin/azurite-blob above {starts:?}. Install it \
             with `npm install azurite@3.37.0` in the repository root (scripts/setup.sh does), \
             or set AZURITE_BIN to an azurite-blob executable, or AZURITE_BLOB_URL + \
             AZURITE_CA_CERT to a running instance."
        )
    })
}

/// Starts `azurite-blob` under a tiny shell supervisor that stops it when our stdin pipe
/// closes, so no Azurite outlives the test binary, whatever way the binary ends.
fn start() -> Azurite {
    let bin = azurite_bin();
    let version = version_of(&bin);

    let dir = tempfile::Builder::new().prefix("polaris-azurite-").tempdir().expect("temp dir");
    let dir = dir.keep();
    let pki = pki::generate();
    std::fs::write(dir.join("cert.pem"), &pki.leaf_pem).expect("write cert");
    std::fs::write(dir.join("key.pem"), &pki.leaf_key_pem).expect("write key");
    let port = free_port();

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
        .unwrap_or_else(|err| panic!("cannot run sh to start {}: {err}", bin.display()));
    let stdin = child.stdin.take().expect("piped stdin");

    wait_for_port(port, &dir.join("azurite.log"));
    let account_url =
        Url::parse(&format!("https://127.0.0.1:{port}/devstoreaccount1")).expect("account URL");
    Azurite {
        account_url,
        ca_pem: pki.ca_pem,
        version,
        _supervisor: Some(Mutex::new((child, stdin))),
    }
}

fn version_of(bin: &Path) -> String {
    let output = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|err| panic!("cannot run {} --version: {err}", bin.display()));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("bind");
    listener.local_addr().expect("local addr").port()
}

fn wait_for_port(port: u16, log: &Path) {
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }

    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(log) {
        let _ = file.read_to_string(&mut text);
    }
    panic!("Azurite did not listen on 127.0.0.1:{port} in {START_TIMEOUT:?}; its log:\n{text}");
}

/// Runs the conformance check on a thread with its own runtime: the caller may be inside a
/// test's runtime, where blocking on another future is not allowed.
fn conformance_on_own_runtime(azurite: &Azurite) {
    let account_url = azurite.account_url.clone();
    let options = client_options(azurite);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        runtime.expect("runtime").block_on(conformance(account_url, options));
    })
    .join()
    .expect("Azurite conformance check (see the panic above)");
}

/// Conditional semantics our store relies on, asked of the service directly (B23):
/// `If-Match: *` and `If-Match: <etag>` on a missing blob are refused and create nothing,
/// and `If-None-Match: *` on an existing blob is refused.
async fn conformance(account_url: Url, options: azure_core::http::ClientOptions) {
    let mut url = account_url;
    url.path_segments_mut().expect("base URL").push(&unique_container("conformance"));
    let options = BlobContainerClientOptions { client_options: options, ..Default::default() };
    let credential = Arc::new(StorageTestCredential);
    let container = BlobContainerClient::new(url, Some(credential), Some(options));
    let container = container.expect("client");
    container.create(None).await.expect("create the conformance container");
    let blob = container.blob_client("missing");

    for tag in ["*", "\"0x8DDDDDDDDDDDDDD\""] {
        let options =
            BlockBlobClientUploadOptions { if_match: Some(Etag::from(tag)), ..Default::default() };
        let result = blob.upload(RequestContent::from(b"x".to_vec()), Some(options)).await;
        let status = result.err().and_then(|e| e.http_status()).map(u16::from);
        assert_eq!(
            status,
            Some(412),
            "Azurite must refuse `If-Match: {tag}` on a missing blob with 412 (B23); \
             pin azurite >= 3.36.0"
        );
        assert!(!blob.exists().await.expect("exists"), "`If-Match: {tag}` created the blob");
    }

    let create = || BlockBlobClientUploadOptions {
        if_none_match: Some(Etag::from("*")),
        ..Default::default()
    };
    blob.upload(RequestContent::from(b"1".to_vec()), Some(create())).await.expect("first create");
    let second = blob.upload(RequestContent::from(b"2".to_vec()), Some(create())).await;
    let status = second.err().and_then(|e| e.http_status()).map(u16::from);
    assert!(matches!(status, Some(409 | 412)), "If-None-Match: * on an existing blob: {status:?}");
}

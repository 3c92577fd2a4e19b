//! Issue 4: `polaris up` serves the API on loopback as a process, and the CLI talks to it.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polaris_up_serves_the_api_on_loopback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_polaris"))
        .args(["up", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(dir.path())
        .env_remove("POLARIS_API_URL")
        .env_remove("POLARIS_API_TOKEN")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starts");

    // The process says where it listens.
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("reads") {
            if let Some(rest) = line.strip_prefix("Deployments API at ") {
                return rest.split("/api").next().expect("url").to_owned();
            }
        }
        panic!("`polaris up` ended without listening")
    })
    .await
    .expect("listens in time");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let doc: Value = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert!(doc["paths"]["/api/deployments"].is_object());

    let list = tokio::process::Command::new(env!("CARGO_BIN_EXE_polaris"))
        .args(["--api", &base, "list"])
        .output()
        .await
        .expect("runs");
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));

    let spec = format!("{}/examples/standard.json", env!("CARGO_MANIFEST_DIR"));
    let plan = tokio::process::Command::new(env!("CARGO_BIN_EXE_polaris"))
        .args(["--api", &base, "plan", &spec])
        .output()
        .await
        .expect("runs");
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("plan JSON");
    assert!(plan["steps"].as_array().is_some_and(|s| !s.is_empty()));

    child.kill().await.expect("stops");
}

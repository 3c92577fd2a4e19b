//! Issue 4: the Deployments API over real HTTP on 127.0.0.1, served by the embedded runtime
//! (`polaris up`'s code path), driven by the CLI's own client and by the `polaris` binary
//! with `--api`.

mod api_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use api_support::{CANARY, secret_spec};
use polaris::api::client::ApiClient;
use polaris::api::serve::{Served, serve_runtime};
use serde_json::{Value, json};
use support::{Harness, Setup, example};

const TOKEN: &str = "test-token-7f3a";

/// The runtime in virtual time, driven by a background task, served on loopback.
async fn serving() -> (Arc<Harness>, Served, tokio::task::JoinHandle<()>) {
    let h = Arc::new(support::start(Setup::default()).await);
    let listen = "127.0.0.1:0".parse().expect("addr");
    let served = serve_runtime(&h.rt, listen, Some(TOKEN.into())).await.expect("serves");
    assert!(served.addr.ip().is_loopback());
    let driver = {
        let h = h.clone();
        tokio::spawn(async move {
            loop {
                h.rt.drive_virtual(200).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    (h, served, driver)
}

fn raw() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

async fn cli(base: &str, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_polaris"))
        .arg("--api")
        .arg(base)
        .arg("--api-token")
        .arg(TOKEN)
        .args(args)
        .env_remove("POLARIS_API_URL")
        .output()
        .await
        .expect("the binary runs");
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_status_list_and_teardown_over_http() {
    let (_h, served, driver) = serving().await;
    let base = served.base_url();
    let spec = secret_spec(example("enhanced.json"));

    // Without the token: 401 problem.
    let denied = raw().get(format!("{base}/api/deployments")).send().await.expect("answer");
    assert_eq!(denied.status(), 401);
    assert_eq!(denied.headers()["content-type"], "application/problem+json");

    // Submit with headers checked on the wire.
    let submitted = raw()
        .post(format!("{base}/api/deployments"))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "http-1")
        .json(&spec)
        .send()
        .await
        .expect("answer");
    assert_eq!(submitted.status(), 202);
    let location = submitted.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(submitted.headers().contains_key("retry-after"));
    let text = submitted.text().await.expect("body");
    assert!(!text.contains(CANARY) && !text.contains(TOKEN));
    let id =
        serde_json::from_str::<Value>(&text).expect("json")["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("/api/deployments/{id}"));

    // The CLI's client: a repeat with the key is the same deployment; wait for the end.
    let client = ApiClient::new(&base, Some(TOKEN.into())).expect("client");
    let again = client.submit(&spec, Some("http-1")).await.expect("accepted");
    assert_eq!(again.id, id);
    let done = client.wait(&id, Duration::from_millis(20)).await.expect("finishes");
    assert_eq!(done.status, "succeeded");
    assert!(done.outputs["container_group_ip"].is_some());

    // The binary with --api.
    let (ok, out, err) = cli(&base, &["list"]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&id) && out.contains("succeeded"), "{out}");
    let (ok, out, err) = cli(&base, &["status", &id]).await;
    assert!(ok, "{err}");
    let status: Value = serde_json::from_str(&out).expect("status is JSON");
    assert_eq!(status["status"], json!("succeeded"));
    assert!(status["history"].as_array().is_some_and(|h| !h.is_empty()));
    assert!(!out.contains(CANARY) && !out.contains(TOKEN));
    let (ok, out, err) = cli(&base, &["rotate-key", &id]).await;
    assert!(ok, "{err}");
    assert!(out.contains("rotated"), "{out}");
    let (ok, out, err) = cli(&base, &["teardown", &id]).await;
    assert!(ok, "{out}{err}");
    let view: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(view["status"], json!("torn_down"));
    let (ok, _, err) = cli(&base, &["status", "no-such-deployment"]).await;
    assert!(!ok && err.contains("404"), "{err}");

    // The OpenAPI document over HTTP equals the one the binary prints.
    let doc: Value = client
        .send(reqwest::Method::GET, "/api/openapi.json", None, &[])
        .await
        .expect("document")
        .body;
    let printed = tokio::process::Command::new(env!("CARGO_BIN_EXE_polaris"))
        .arg("openapi")
        .output()
        .await
        .expect("runs");
    let printed: Value = serde_json::from_slice(&printed.stdout).expect("JSON");
    assert_eq!(doc, printed);

    driver.abort();
    served.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_is_served_next_to_the_api() {
    let (_h, served, driver) = serving().await;
    let base = served.base_url();
    let url = format!("{base}/runtime/webhooks/eventgrid?code={TOKEN}");

    let grant = raw()
        .request(reqwest::Method::OPTIONS, &url)
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .send()
        .await
        .expect("answer");
    assert_eq!(grant.status(), 200);
    assert_eq!(grant.headers()["webhook-allowed-origin"], "eventgrid.azure.net");

    let anonymous = raw()
        .request(reqwest::Method::OPTIONS, format!("{base}/runtime/webhooks/eventgrid"))
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), 401);

    let body = json!([{ "id": "v1", "eventType": polaris_host::SUBSCRIPTION_VALIDATION_EVENT,
        "subject": "", "eventTime": "2030-01-01T00:00:00Z",
        "data": { "validationCode": "abc-123" } }]);
    let validated = raw()
        .post(&url)
        .header("aeg-event-type", "SubscriptionValidation")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(validated.status(), 200);
    let answer: Value = validated.json().await.expect("json");
    assert_eq!(answer, json!({ "validationResponse": "abc-123" }));

    driver.abort();
    served.task.abort();
}

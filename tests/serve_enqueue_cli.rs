//! `polaris enqueue`: validates the spec before anything else, sends one `deploy` message
//! through the Service Bus sender (the contract-enforcing fake here), and a re-send of the
//! same spec and key is absorbed by duplicate detection.

use std::path::Path;
use std::process::{Command, Output};

use polaris_core::saga::WorkMessage;
use polaris_servicebus::fake::FakeServiceBus;

const QUEUE: &str = "deployments";

async fn enqueue(fake: &FakeServiceBus, ca: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_polaris"));
    command
        .arg("enqueue")
        .args(args)
        .env_clear()
        .env("POLARIS_SERVICEBUS_ENDPOINT", fake.endpoint().as_str())
        .env("POLARIS_QUEUE_NAME", QUEUE)
        .env("POLARIS_CREDENTIAL", "local")
        .env("POLARIS_EXTRA_CA_PEM", ca)
        .env("POLARIS_LOG", "off")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs")).await.unwrap()
}

#[tokio::test]
async fn enqueue_sends_one_deploy_message_and_absorbs_a_resend() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();

    let args = ["examples/standard.json", "--idempotency-key", "release-42"];
    let first = enqueue(&fake, &ca, &args).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = enqueue(&fake, &ca, &args).await;
    assert!(second.status.success());
    assert_eq!(first.stdout, second.stdout, "the message id is derived from the request");

    let delivered = fake.drain(QUEUE);
    assert_eq!(delivered.len(), 1, "the re-send was absorbed");
    let id = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    assert_eq!(delivered[0].message_id, id);
    match serde_json::from_slice(&delivered[0].body).expect("work message") {
        WorkMessage::Deploy { schema, idempotency_key, .. } => {
            assert_eq!(schema, "polaris.work/v1");
            assert_eq!(idempotency_key.as_deref(), Some("release-42"));
        }
        other => panic!("not a deploy message: {other:?}"),
    }
}

#[tokio::test]
async fn invalid_spec_is_refused_before_anything_is_sent() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, fake.ca_pem()).unwrap();
    let spec = dir.path().join("bad.json");
    std::fs::write(&spec, r#"{"name": "x"}"#).unwrap();

    let output = enqueue(&fake, &ca, &[spec.to_str().unwrap()]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid"));
    assert!(fake.attempts().is_empty(), "nothing reached the broker");
}

#[tokio::test]
async fn missing_endpoint_setting_is_named() {
    let output = tokio::task::spawn_blocking(|| {
        Command::new(env!("CARGO_BIN_EXE_polaris"))
            .args(["enqueue", "examples/standard.json"])
            .env_clear()
            .env("POLARIS_LOG", "off")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("runs")
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("POLARIS_SERVICEBUS_ENDPOINT"));
}

//! The built `polaris serve` binary with production wiring from app settings, pointed at
//! loopback stand-ins: Azurite for state, the contract-enforcing fake Service Bus for the
//! queue, the simulator for ARM, one CA bundle in `POLARIS_EXTRA_CA_PEM` and the local
//! credential. The forwarded API accepts a deployment, the kick reaches the broker, and the
//! SagaWorker route starts the saga from it: settings, credentials, TLS and clients all work
//! together, and nothing but loopback is contacted.

mod serve_support;

use polaris_blobstore::testing as support_azurite;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use polaris_core::ports::StateStore;
use polaris_core::saga::{DeploymentStatus, SagaState, WorkMessage};
use polaris_servicebus::fake::FakeServiceBus;
use serde_json::Value;

const QUEUE: &str = "deployments";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn serve_binary_wires_blob_state_service_bus_and_arm_from_settings() {
    let azurite = support_azurite::azurite();
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake Service Bus");
    let clock = std::sync::Arc::new(polaris::clock::VirtualClock::new());
    let sim = serve_support::start_sim(&clock).await;

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    let pems = [azurite.ca_pem.as_str(), fake.ca_pem(), &sim.ca_certificate_pem()].join("\n");
    std::fs::write(&bundle, pems).unwrap();
    let container = support_azurite::unique_container("wiring");
    let port = free_port();

    let child = Command::new(env!("CARGO_BIN_EXE_polaris"))
        .arg("serve")
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("POLARIS_STATE_ACCOUNT_URL", azurite.account_url.as_str())
        .env("POLARIS_STATE_CONTAINER", &container)
        .env("POLARIS_SERVICEBUS_ENDPOINT", fake.endpoint().as_str())
        .env("POLARIS_QUEUE_NAME", QUEUE)
        .env("POLARIS_ARM_ENDPOINT", sim.arm_endpoint())
        // Never contacted by this test: the standard example has no secrets.
        .env("POLARIS_SECRETS_VAULT_URL", "https://127.0.0.1:9/")
        .env("POLARIS_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47")
        .env("POLARIS_CREDENTIAL", "local")
        .env("POLARIS_EXTRA_CA_PEM", &bundle)
        .env("POLARIS_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let _child = Killed(child);

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..400 {
        if http.get(&base).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "the handler answers GET /");

    // The forwarded API (the host already checked the function key).
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/standard.json"));
    let submitted = http
        .post(format!("{base}/api/deployments?code=function-key"))
        .header("content-type", "application/json")
        .body(spec.unwrap())
        .send()
        .await
        .expect("API answers");
    assert_eq!(submitted.status().as_u16(), 202, "{:?}", submitted.text().await);

    let kicks = fake.wait_for(QUEUE, 1, Duration::from_secs(30)).await;
    assert_eq!(kicks.len(), 1, "the kick reached the broker");
    let kick: WorkMessage = serde_json::from_slice(&kicks[0].body).unwrap();
    assert!(matches!(kick, WorkMessage::Kick { .. }));

    // The host delivers the kick to SagaWorker; the saga starts and sends its first steps.
    let envelope = serve_support::sb_envelope(&kicks[0].body, &kicks[0].message_id, 1);
    let answer = http
        .post(format!("{base}/SagaWorker"))
        .header("x-azure-functions-invocationid", "inv-wiring")
        .header("content-type", "application/json; charset=utf-8")
        .body(envelope.to_string())
        .send()
        .await
        .expect("SagaWorker answers");
    assert_eq!(answer.status().as_u16(), 200);
    let body: Value = answer.json().await.unwrap();
    assert!(body["Logs"][0].as_str().unwrap().contains("completed"), "{body}");
    let steps = fake.wait_for(QUEUE, 1, Duration::from_secs(30)).await;
    assert!(!steps.is_empty(), "the first step was sent");

    let store = support_azurite::store_on(&container).await;
    let keys = store.list("deployments/", None, 10).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let state: SagaState =
        serde_json::from_slice(&store.get(&keys[0]).await.unwrap().body).unwrap();
    assert_eq!(state.status, DeploymentStatus::Running);
}

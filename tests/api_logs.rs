//! Issue 4: secrets never reach the logs, even at trace level, through the whole API flow
//! (submit, status with history, rotation, event teardown).

mod api_support;
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use api_support::{CANARY, api, call, secret_spec};
use polaris::events::{TEARDOWN_REQUESTED, handle_event};
use polaris::rotation::{Rotation, RotationRun, rotate_one};
use polaris_host::IncomingEvent;
use serde_json::json;
use support::{Setup, example};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_secret_in_any_log_line() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .json()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    let spec = secret_spec(example("enhanced.json"));
    let accepted = call(&api, "POST", "/api/deployments", Some(&spec), &[]).await;
    let id = accepted.body["id"].as_str().expect("id").to_owned();
    h.run().await;
    let _ = call(&api, "GET", &format!("/api/deployments/{id}?history=true"), None, &[]).await;

    let rotation = Rotation::for_simulator(h.sim()).expect("clients");
    let dep = polaris_core::ids::DeploymentId::new(id.clone()).expect("id");
    let run = RotationRun::manual(polaris::clock::Clock::now(h.clock.as_ref()));
    rotate_one(&h.rt.app, &rotation, &dep, &run, true).await.expect("rotates");

    let raw = json!([{ "id": "log-1", "eventType": TEARDOWN_REQUESTED, "subject": "/x",
        "eventTime": "2030-01-01T00:00:00Z", "data": { "deploymentId": id } }]);
    let event = IncomingEvent::parse_batch(&raw).expect("parses").remove(0);
    handle_event(&h.rt.app, &event).await;
    h.run().await;

    let logs = String::from_utf8(captured.0.lock().expect("not poisoned").clone()).expect("utf8");
    assert!(logs.contains("key rotated"), "the flow was logged");
    assert!(logs.contains(&id), "log lines carry the deployment id");
    assert!(!logs.contains(CANARY), "a secret reached the logs");
}

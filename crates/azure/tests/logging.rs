//! Secrets never reach the logs: run a PUT carrying a secret with every log level on, and
//! look for the secret in what was written.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use polaris_azure::RetryPolicy;
use polaris_core::action::{Action, Outcome};
use polaris_core::plan::model::Ownership;
use serde_json::json;
use support::{FakeAzure, MemorySecrets, OWNER, Reply, ctx, executor_with, our_tags, owner};
use support::{resource, rid};

const SECRET: &str = "pa55-w0rd-never-logged";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn put_bodies_and_resolved_secrets_are_not_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeAzure::start().await;
    let secrets = MemorySecrets::with(OWNER, "env-token", SECRET);
    let (exec, _) = executor_with(&fake, secrets, RetryPolicy::default());
    let id = rid("Microsoft.ContainerInstance/containerGroups/cg-a");
    let body = json!({"tags": our_tags(), "properties": {"containers": [{"name": "w",
        "properties": {"environmentVariables": [
            {"name": "T", "secureValue": "${secret:env-token}"}]}}]}});
    fake.on("PUT", &id, vec![Reply::error(500, "InternalServerError", &format!("echo {SECRET}"))]);

    let res = resource(&id, body, Ownership::Tag, &[]);
    let outcome =
        exec.execute(&Action::Ensure { owner: owner(), resource: res }, &ctx("cg")).await;

    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    assert_eq!(
        fake.bodies("PUT", &id)[0]
            .pointer("/properties/containers/0/properties/environmentVariables/0/secureValue"),
        Some(&json!(SECRET))
    );
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(PoisonError::into_inner))
        .into_owned();
    assert!(logs.contains("execute"), "the capture works: {logs}");
    assert!(!logs.contains(SECRET), "secret found in logs:\n{logs}");
}

//! Issue 4, key rotation: a due key gets a new version through the Key Vault data plane,
//! exportable and with the release policy byte-for-byte; two firings of one schedule rotate
//! once; the container group restarts only when asked; a new version without the intended
//! policy fails the run (B04).

mod api_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use polaris::clock::Clock;
use polaris::rotation::{
    BackendError, KeyDataPlane, KeyVersionInfo, Rotation, RotationOutcome, RotationRun, rotate_due,
};
use polaris_core::plan::model::StepKind;
use polaris_core::saga::SagaState;
use serde_json::{Value, json};
use support::{Harness, Setup, example, with};

const DAY: Duration = Duration::from_secs(86_400);

struct Deployed {
    h: Harness,
    state: SagaState,
    rotation: Rotation,
    vault: String,
    key: String,
    policy_json: String,
}

async fn deployed(spec: Value) -> Deployed {
    let h = support::start(Setup::default()).await;
    let state = h.deploy(&spec, "rotation").await;
    assert_eq!(state.status, polaris_core::saga::DeploymentStatus::Succeeded);
    let plan = h.plan(&state);
    let mut vault = String::new();
    let mut key = String::new();
    let mut policy_json = String::new();
    for step in &plan.steps {
        match &step.kind {
            StepKind::Vault(v) => vault = v.name.clone(),
            StepKind::Key(k) => {
                key = k.name.clone();
                policy_json = k.release_policy_json.clone();
            }
            _ => {}
        }
    }
    let rotation = Rotation::for_simulator(h.sim()).expect("clients for the simulator");
    Deployed { h, state, rotation, vault, key, policy_json }
}

fn creates(d: &Deployed) -> usize {
    let path = format!("/keys/{}/create", d.key).to_ascii_lowercase();
    let log = d.h.sim().request_log();
    log.iter()
        .filter(|r| r.method == "POST" && r.path.to_ascii_lowercase().ends_with(&path))
        .count()
}

fn restarts(d: &Deployed) -> usize {
    let log = d.h.sim().request_log();
    log.iter().filter(|r| r.method == "POST" && r.path.ends_with("/restart")).count()
}

#[tokio::test]
async fn a_due_key_rotates_once_keeping_exportable_and_the_exact_policy() {
    let d = deployed(example("enhanced.json")).await;
    let app = &d.h.rt.app;

    let early = rotate_due(app, &d.rotation, &RotationRun::scheduled(d.h.clock.now())).await;
    assert!(matches!(early.results[0].outcome, RotationOutcome::NotDue { .. }), "{early:?}");
    assert_eq!(creates(&d), 0);

    let before = d.rotation.keys.get_key(&d.vault, &d.key, None).await.expect("current key");
    d.h.clock.advance(DAY * 91);
    let run = RotationRun::scheduled(d.h.clock.now());
    let report = rotate_due(app, &d.rotation, &run).await;
    assert_eq!(report.rotated(), 1, "{report:?}");
    let RotationOutcome::Rotated { version, previous_version, restarted } =
        report.results[0].outcome.clone()
    else {
        panic!("{report:?}")
    };
    assert_eq!(previous_version.as_deref(), Some(before.version.as_str()));
    assert!(!restarted, "the spec did not ask for a restart");
    assert_eq!(restarts(&d), 0);

    // The new version, read straight from the data plane.
    let new = d.rotation.keys.get_key(&d.vault, &d.key, Some(&version)).await.expect("new");
    assert_ne!(new.version, before.version);
    assert_eq!(new.exportable, Some(true));
    let bytes = new.policy_bytes.expect("a release policy");
    assert_eq!(bytes, before.policy_bytes.expect("old policy"), "byte-for-byte the same");
    assert_eq!(bytes, d.policy_json.as_bytes(), "exactly the configured policy");

    // Recorded in history and outputs.
    let state = d.h.state(&d.state.deployment_id).await;
    assert!(state.history.iter().any(|h| h.event == "key_rotated" && h.detail.contains(&version)));
    assert_eq!(state.outputs.get("key_version").cloned().flatten(), Some(version));

    // The timer fires again for the same occurrence: nothing more happens.
    let again = rotate_due(app, &d.rotation, &run).await;
    assert!(matches!(again.results[0].outcome, RotationOutcome::AlreadyRotated { .. }));
    assert_eq!(creates(&d), 1);
}

#[tokio::test]
async fn two_concurrent_firings_of_one_schedule_rotate_once() {
    let d = deployed(example("enhanced.json")).await;
    let app = &d.h.rt.app;
    d.h.clock.advance(DAY * 120);
    let run = RotationRun::scheduled(d.h.clock.now());

    let (a, b) =
        tokio::join!(rotate_due(app, &d.rotation, &run), rotate_due(app, &d.rotation, &run));
    assert_eq!(a.rotated() + b.rotated(), 1, "{a:?} {b:?}");
    assert_eq!(creates(&d), 1);

    // A later slot, before the interval has passed again, does not rotate either.
    d.h.clock.advance(DAY);
    let next = rotate_due(app, &d.rotation, &RotationRun::scheduled(d.h.clock.now())).await;
    assert!(matches!(next.results[0].outcome, RotationOutcome::NotDue { .. }), "{next:?}");
}

#[tokio::test]
async fn the_container_group_restarts_only_when_the_spec_asks() {
    let spec = with(example("enhanced.json"), json!({ "restart_on_key_rotation": true }));
    let d = deployed(spec).await;
    d.h.clock.advance(DAY * 91);

    let report =
        rotate_due(&d.h.rt.app, &d.rotation, &RotationRun::scheduled(d.h.clock.now())).await;
    assert!(
        matches!(report.results[0].outcome, RotationOutcome::Rotated { restarted: true, .. }),
        "{report:?}"
    );
    let log = d.h.sim().request_log();
    let restart = log.iter().find(|r| r.path.ends_with("/restart")).expect("a restart request");
    assert!(restart.path.contains("/Microsoft.ContainerInstance/containerGroups/"));
}

/// Creates versions with another release policy, as a misconfigured rotation would.
struct WrongPolicy(Arc<dyn KeyDataPlane>);

#[async_trait]
impl KeyDataPlane for WrongPolicy {
    async fn get_key(
        &self,
        vault: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionInfo, BackendError> {
        self.0.get_key(vault, key, version).await
    }

    async fn create_version(
        &self,
        vault: &str,
        key: &str,
        body: &Value,
    ) -> Result<KeyVersionInfo, BackendError> {
        let mut body = body.clone();
        let other = r#"{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[]}]}"#;
        body["release_policy"]["data"] = json!(support::b64::encode(other.as_bytes()));
        self.0.create_version(vault, key, &body).await
    }
}

#[tokio::test]
async fn a_new_version_without_the_intended_policy_fails_the_run() {
    let d = deployed(example("enhanced.json")).await;
    d.h.clock.advance(DAY * 91);
    let keys = Arc::new(WrongPolicy(d.rotation.keys.clone()));
    let rotation = Rotation::new(keys, d.rotation.groups);

    let run = RotationRun::scheduled(d.h.clock.now());
    let report = rotate_due(&d.h.rt.app, &rotation, &run).await;
    assert_eq!(report.failed(), 1, "{report:?}");
    let RotationOutcome::Failed { code, .. } = &report.results[0].outcome else { unreachable!() };
    assert_eq!(code, "RotationPostConditionFailed");
    let state = d.h.state(&d.state.deployment_id).await;
    assert!(state.history.iter().any(|h| h.event == "key_rotation_failed"));
    assert!(!state.outputs.contains_key("key_version"));
}

#[tokio::test]
async fn rotate_key_route_rotates_now_and_refuses_standard_mode() {
    let d = deployed(example("enhanced.json")).await;
    let api = api_support::api(d.h.rt.app.clone()).with_rotation(d.rotation.clone());
    let path = format!("/api/deployments/{}/rotate-key", d.state.deployment_id);

    let reply = api_support::call(&api, "POST", &path, None, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["outcome"], json!("rotated"));
    assert_eq!(creates(&d), 1);

    let standard = d.h.submit(&example("standard.json"), "std").await;
    d.h.run().await;
    let path = format!("/api/deployments/{}/rotate-key", standard.deployment_id);
    let refused = api_support::call(&api, "POST", &path, None, &[]).await;
    assert_eq!(refused.status, 409, "{}", refused.text);
}

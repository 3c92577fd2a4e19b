//! The saga tests for key rotation, on simulated Azure through the real clients: succeed;
//! fail at each step (before and after its effect) and leave a usable, consistent key;
//! fail at each step and run the recovery twice; run every step twice (the timer firing
//! twice for one slot). Rotation has no undo: its "clean slate" is the deployment still
//! succeeded with exactly its planned resources and never more than one new key version
//! per slot.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use polaris::chaos::Harness;
use polaris::chaos::specs::spec;
use polaris::clock::Clock;
use polaris::rotation::{
    BackendError, GroupRestarter, KeyDataPlane, KeyVersionInfo, Rotation, RotationOutcome,
    RotationRun, rotate_one,
};
use polaris_core::ids::DeploymentId;
use polaris_core::saga::DeploymentStatus;
use polaris_sim::{FaultPlan, LatencyProfile};
use serde_json::Value;

/// The calls a rotation makes, in order.
const STEPS: &[&str] = &["get_current", "create_version", "read_back", "restart"];

/// Fails one call kind once, before or after the real call took effect.
struct Flaky {
    keys: Arc<dyn KeyDataPlane>,
    groups: Arc<dyn GroupRestarter>,
    fail: Mutex<Option<(String, bool)>>,
}

impl Flaky {
    fn fails(&self, step: &str) -> Option<bool> {
        let mut fail = self.fail.lock().expect("not poisoned");
        match fail.as_ref() {
            Some((s, after)) if s == step => {
                let after = *after;
                *fail = None;
                Some(after)
            }
            _ => None,
        }
    }
}

fn injected(step: &str) -> BackendError {
    BackendError { code: "Injected".into(), message: format!("{step} failed"), request_id: None }
}

#[async_trait]
impl KeyDataPlane for Flaky {
    async fn get_key(
        &self,
        vault: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionInfo, BackendError> {
        let step = if version.is_some() { "read_back" } else { "get_current" };
        match self.fails(step) {
            Some(false) => Err(injected(step)),
            Some(true) => {
                let _ = self.keys.get_key(vault, key, version).await;
                Err(injected(step))
            }
            None => self.keys.get_key(vault, key, version).await,
        }
    }

    async fn create_version(
        &self,
        vault: &str,
        key: &str,
        body: &Value,
    ) -> Result<KeyVersionInfo, BackendError> {
        match self.fails("create_version") {
            Some(false) => Err(injected("create_version")),
            Some(true) => {
                let _ = self.keys.create_version(vault, key, body).await;
                Err(injected("create_version"))
            }
            None => self.keys.create_version(vault, key, body).await,
        }
    }
}

#[async_trait]
impl GroupRestarter for Flaky {
    async fn restart(&self, id: &str, api_version: &str) -> Result<Option<String>, BackendError> {
        match self.fails("restart") {
            Some(false) => Err(injected("restart")),
            Some(true) => {
                let _ = self.groups.restart(id, api_version).await;
                Err(injected("restart"))
            }
            None => self.groups.restart(id, api_version).await,
        }
    }
}

/// A succeeded enhanced deployment that restarts its group on rotation.
async fn deployed() -> (Harness, DeploymentId) {
    let mut h = Harness::start(LatencyProfile::realistic(), FaultPlan::default(), None).await;
    let mut planned = spec(true, false, true, "rotation", 6);
    planned.spec["restart_on_key_rotation"] = Value::Bool(true);
    let id = h.submit(&planned).await;
    h.drive().await;
    assert_eq!(h.state(&id).await.status, DeploymentStatus::Succeeded);
    (h, id)
}

fn rotation(h: &Harness, fail: Option<(&str, bool)>) -> Rotation {
    let real = Rotation::for_simulator(&h.world.sim).expect("clients for the simulator");
    let flaky = Arc::new(Flaky {
        keys: real.keys,
        groups: real.groups,
        fail: Mutex::new(fail.map(|(s, after)| (s.to_owned(), after))),
    });
    Rotation::new(flaky.clone(), flaky)
}

/// Successful key-version creations seen by the simulator.
fn versions_created(h: &Harness) -> usize {
    let log = h.world.sim.request_log();
    log.iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/create") && r.status < 300)
        .count()
}

async fn assert_consistent(h: &mut Harness, id: &DeploymentId) {
    assert_eq!(h.state(id).await.status, DeploymentStatus::Succeeded);
    let violations = h.violations(None).await;
    assert!(violations.is_empty(), "{violations:#?}");
}

async fn rotate(
    h: &Harness,
    rotation: &Rotation,
    id: &DeploymentId,
    run: &RotationRun,
) -> RotationOutcome {
    rotate_one(&h.world.app, rotation, id, run, true).await.expect("the state store answers")
}

#[tokio::test]
async fn rotation_succeeds() {
    let (mut h, id) = deployed().await;
    let run = RotationRun::manual(h.world.clock.now());
    let outcome = rotate(&h, &rotation(&h, None), &id, &run).await;
    assert!(matches!(outcome, RotationOutcome::Rotated { restarted: true, .. }), "{outcome:?}");
    assert_eq!(versions_created(&h), 1);
    assert_consistent(&mut h, &id).await;
}

/// Fails each call (before, or after it took effect), then runs the same slot again:
/// `runs` recovery runs must end rotated with exactly one new version.
async fn fail_each_step(runs: usize) {
    for step in STEPS {
        for after in [false, true] {
            let (mut h, id) = deployed().await;
            let run = RotationRun::manual(h.world.clock.now());
            let flaky = rotation(&h, Some((step, after)));
            let first = rotate(&h, &flaky, &id, &run).await;
            assert!(
                matches!(first, RotationOutcome::Failed { .. }),
                "failing {step} (after: {after}): {first:?}"
            );
            assert_consistent(&mut h, &id).await;

            let mut outcomes = Vec::new();
            for _ in 0..runs {
                outcomes.push(rotate(&h, &flaky, &id, &run).await);
            }
            let rotated = outcomes.iter().filter(|o| matches!(o, RotationOutcome::Rotated { .. }));
            assert_eq!(rotated.count(), 1, "failing {step} (after: {after}): {outcomes:?}");
            assert_eq!(versions_created(&h), 1, "failing {step} (after: {after})");
            assert_consistent(&mut h, &id).await;
        }
    }
}

#[tokio::test]
async fn rotation_fails_at_each_step_and_leaves_a_consistent_key() {
    fail_each_step(1).await;
}

#[tokio::test]
async fn rotation_fails_at_each_step_with_the_recovery_run_twice() {
    fail_each_step(2).await;
}

#[tokio::test]
async fn rotation_runs_twice_in_one_slot_and_rotates_once() {
    let (mut h, id) = deployed().await;
    let run = RotationRun::scheduled(h.world.clock.now());
    let rotation = rotation(&h, None);
    let (first, second) = futures::join!(
        rotate_one(&h.world.app, &rotation, &id, &run, true),
        rotate_one(&h.world.app, &rotation, &id, &run, true)
    );
    let outcomes = [first.expect("answers"), second.expect("answers")];
    let rotated = outcomes.iter().filter(|o| matches!(o, RotationOutcome::Rotated { .. }));
    assert_eq!(rotated.count(), 1, "{outcomes:?}");
    let again = rotate(&h, &rotation, &id, &run).await;
    assert!(matches!(again, RotationOutcome::AlreadyRotated { .. }), "{again:?}");
    assert_eq!(versions_created(&h), 1);
    assert_consistent(&mut h, &id).await;
}

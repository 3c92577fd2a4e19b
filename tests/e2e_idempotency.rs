//! Issue 2: every message delivered twice, and every step run twice (a crash after the Azure
//! call, or after the state write, then redelivery), end in the same state as a clean run
//! and create no resource twice.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use polaris::worker::CrashPoint;
use polaris_core::saga::{DeploymentStatus, Phase, SagaState};
use serde_json::{Value, json};
use support::{CrashOncePerStep, Harness, Setup, example, log, resource_id, step_names, with};

/// What must not differ between a clean run and a disturbed one.
#[derive(Debug, PartialEq)]
struct EndState {
    status: DeploymentStatus,
    steps: BTreeMap<String, String>,
    /// Outputs, except the container group's address (the simulator may hand out another
    /// loopback address when a bind collides).
    outputs: BTreeMap<String, Option<String>>,
    /// Lower-cased ids of the live resources carrying our tag.
    resources: BTreeSet<String>,
}

fn end_state(h: &Harness, state: &SagaState) -> EndState {
    let mut outputs = state.outputs.clone();
    outputs.remove("container_group_ip");
    let resources =
        h.tagged(&state.deployment_id).into_iter().map(|r| r.id.to_ascii_lowercase()).collect();
    EndState { status: state.status, steps: support::step_statuses(state), outputs, resources }
}

enum Disturbance {
    None,
    DuplicateEveryMessage,
    CrashOnce(CrashPoint),
}

async fn run(spec: &Value, disturbance: Disturbance) -> (Harness, SagaState) {
    let mut h = support::start(Setup::default()).await;
    let hook = match disturbance {
        Disturbance::CrashOnce(point) => {
            let hook = CrashOncePerStep::at(point);
            h.install_crash_hook(hook.clone());
            Some(hook)
        }
        _ => None,
    };

    let accepted = h.submit(spec, "idempotent").await;
    match disturbance {
        Disturbance::DuplicateEveryMessage => h.run_with_duplicates().await,
        _ => h.run().await,
    }

    let state = h.state(&accepted.deployment_id).await;
    if let Some(hook) = hook {
        // Every step of the plan crashed once, so every step really ran twice.
        let crashed: BTreeSet<String> = hook.crashed().into_iter().map(|(s, _)| s).collect();
        let all: BTreeSet<String> = step_names(&h.plan(&state)).into_iter().collect();
        assert_eq!(crashed, all, "{}", support::history(&state));
        assert!(hook.crashed().iter().all(|(_, phase)| *phase == Phase::Do.as_str()));
    }
    if matches!(disturbance, Disturbance::DuplicateEveryMessage) {
        let stats = h.rt.queue.stats();
        assert!(stats.delivered >= 2 * stats.sent, "every message came twice: {stats:?}");
    }
    (h, state)
}

/// No resource was created twice: one successful PUT per resource, except the key, whose
/// ARM PUT is create-if-not-exist by design; it must still hold a single version.
async fn assert_created_once(h: &Harness, state: &SagaState) {
    let requests = h.sim().request_log();
    let plan = h.plan(state);
    let key = resource_id(&plan, "key").map(|k| k.to_ascii_lowercase());

    for (id, n) in log::creating_puts(&requests) {
        assert_eq!(n, 1, "{id} was created {n} times");
    }
    for (id, n) in log::successful_puts(&requests) {
        if Some(&id) != key.as_ref() {
            assert_eq!(n, 1, "{id}: a PUT on an existing resource instead of adopting it");
        }
    }
    if let Some(key) = resource_id(&plan, "key") {
        let vault_id = resource_id(&plan, "vault").expect("vault");
        let vault = support::last_segment(&vault_id);
        let key_name = support::last_segment(&key);
        let path = format!("/kv/{vault}/keys/{key_name}/versions?api-version=7.4");
        let versions = h.sim().seed_request("GET", &path, Value::Null).await.expect("versions");
        let count = versions["value"].as_array().map_or(0, Vec::len);
        assert_eq!(count, 1, "the key has one version: {versions}");
    }
}

async fn same_end_state_under_every_disturbance(spec: Value) {
    let (clean_h, clean) = run(&spec, Disturbance::None).await;
    assert_eq!(clean.status, DeploymentStatus::Succeeded, "{}", support::history(&clean));
    let expected = end_state(&clean_h, &clean);
    assert_created_once(&clean_h, &clean).await;

    for (name, disturbance) in [
        ("duplicate delivery", Disturbance::DuplicateEveryMessage),
        ("crash after action", Disturbance::CrashOnce(CrashPoint::AfterAction)),
        ("crash after write", Disturbance::CrashOnce(CrashPoint::AfterWrite)),
    ] {
        let (h, state) = run(&spec, disturbance).await;
        assert_eq!(end_state(&h, &state), expected, "{name}: {}", support::history(&state));
        assert_created_once(&h, &state).await;
    }
}

#[tokio::test]
async fn enhanced_private_duplicates_and_reruns_give_the_same_end_state_and_no_duplicates() {
    same_end_state_under_every_disturbance(example("private.json")).await;
}

#[tokio::test]
async fn enhanced_public_duplicates_and_reruns_give_the_same_end_state_and_no_duplicates() {
    same_end_state_under_every_disturbance(example("enhanced.json")).await;
}

#[tokio::test]
async fn standard_duplicates_and_reruns_give_the_same_end_state_and_no_duplicates() {
    same_end_state_under_every_disturbance(example("standard.json")).await;
    let private = with(example("private.json"), json!({ "enable_key_vault": false }));
    same_end_state_under_every_disturbance(private).await;
}

/// A step that crashed after its PUT found its resource on the rerun and adopted it.
#[tokio::test]
async fn rerun_after_a_crash_adopts_the_resource_it_created() {
    let (_h, state) =
        run(&example("private.json"), Disturbance::CrashOnce(CrashPoint::AfterAction)).await;

    let adopted: BTreeSet<&str> = state
        .history
        .iter()
        .filter(|e| e.event == "succeeded" && e.detail.starts_with("adopted existing resource"))
        .filter_map(|e| e.step.as_ref().map(|s| s.as_str()))
        .collect();
    let created_by_put = ["resource_group", "nsg", "vnet", "subnet", "identity", "vault"];
    for step in created_by_put.into_iter().chain(["role_assignment", "container_group"]) {
        assert!(adopted.contains(step), "{step} not adopted: {}", support::history(&state));
    }
}

/// Omicron's "unwind idempotently": the forward path fails, and every undo crashes once after
/// its Azure call, so each DELETE runs twice; compensation still removes everything.
#[tokio::test]
async fn compensation_with_every_undo_run_twice_still_leaves_nothing() {
    let mut h = support::start(Setup::default()).await;
    let hook = CrashOncePerStep::at(CrashPoint::AfterAction);
    h.install_crash_hook(hook.clone());
    let accepted = h.submit(&example("private.json"), "undo-twice").await;
    let plan = h.plan(&accepted);
    let refused = support::faults::status(400, "InvalidContainerGroup");
    let group = resource_id(&plan, "container_group").expect("group");
    h.sim().faults().push(support::faults::on("PUT", &group, refused)).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let undone: BTreeSet<String> = hook
        .crashed()
        .into_iter()
        .filter(|(_, phase)| *phase == Phase::Undo.as_str())
        .map(|(step, _)| step)
        .collect();
    let expected = ["resource_group", "nsg", "vnet", "subnet", "identity", "vault"];
    for step in expected.into_iter().chain(["role_assignment", "container_group"]) {
        assert!(undone.contains(step), "{step} undo did not run twice: {undone:?}");
    }
    assert_eq!(h.tagged(&state.deployment_id), vec![]);
    let rg = resource_id(&plan, "resource_group").expect("rg");
    assert_eq!(h.in_group(support::last_segment(&rg)), vec![]);
    assert_eq!(h.sim().soft_deleted_vaults(), vec![]);
}

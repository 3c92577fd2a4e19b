//! Field reports B08, B09, B11 and B12 (`../shared/cases/field-reports.md`) through the whole
//! saga on simulated Azure: CCE policies, subnet delegation, regional capacity and container
//! groups that never start.

mod support;

use polaris::error::WorkerError;
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_sim::{Fault, LoggedRequest};
use serde_json::{Value, json};
use support::faults::{lro_fails, on, status};
use support::{Harness, Setup, b64, example, log, resource_id, with};

const ACI_DELEGATION: &str = "Microsoft.ContainerInstance/containerGroups";
const CAPACITY_TEXT: &str = "The requested resource is not available in the location \
                             'westeurope' at this moment. Please retry with a different resource \
                             request or in another location.";

fn group_requests(h: &Harness, state: &SagaState, method: &str) -> Vec<LoggedRequest> {
    let group = resource_id(&h.plan(state), "container_group").expect("a group");
    log::on(&h.sim().request_log(), method, &group).into_iter().cloned().collect()
}

/// Nothing tagged with the deployment and nothing in its resource group.
fn assert_nothing_left(h: &Harness, state: &SagaState) {
    assert_eq!(h.tagged(&state.deployment_id), vec![]);
    let rg = resource_id(&h.plan(state), "resource_group").expect("rg");
    assert_eq!(h.in_group(support::last_segment(&rg)), vec![]);
}

fn valid_cce_policy() -> String {
    b64::encode(br#"{"allow_all": false, "containers": {"length": 3}}"#)
}

#[tokio::test]
async fn b08_empty_cce_policy_is_a_validation_error_with_zero_http_requests() {
    let h = support::start(Setup::default()).await;

    for empty in ["", "   "] {
        let result = h.rt.app.deployments.submit(&support::cce_spec(empty), None).await;

        let Err(WorkerError::InvalidSpec(errors)) = result else { panic!("accepted: {result:?}") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["cce_policy"], "{errors}");
        assert!(errors.0[0].message.contains("empty"), "{errors}");
    }
    assert_eq!(h.sim().request_log(), vec![], "no HTTP request at all");
    assert_eq!(h.rt.queue.stats().sent, 0);
    assert!(h.rt.app.deployments.list(None, None, 10).await.expect("list").items.is_empty());
}

#[tokio::test]
async fn b08_invalid_cce_policy_from_arm_is_terminal_after_exactly_one_group_put() {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&support::cce_spec(&valid_cce_policy()), "b08").await;
    let group = resource_id(&h.plan(&accepted), "container_group").expect("group");
    h.sim().faults().push(on("PUT", &group, status(400, "InvalidCcePolicy"))).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    let got = (failure.step.as_str(), failure.code.as_str());
    assert_eq!(got, ("container_group", "InvalidCcePolicy"));
    assert_eq!(group_requests(&h, &state, "PUT").len(), 1, "terminal: no retry of the PUT");
    assert_nothing_left(&h, &state);
}

#[tokio::test]
async fn b09_new_subnet_is_delegated_to_container_instances_and_used_by_the_group() {
    let h = support::start(Setup::default()).await;

    let state = h.deploy(&example("private.json"), "b09-new").await;

    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));
    let subnet = resource_id(&h.plan(&state), "subnet").expect("subnet");
    let requests = h.sim().request_log();
    let puts = log::on(&requests, "PUT", &subnet);
    assert_eq!(puts.len(), 1);
    let delegations = puts[0].body.as_ref().and_then(|b| b.pointer("/properties/delegations"));
    let services: Vec<&Value> = delegations
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| &d["properties"]["serviceName"])
        .collect();
    assert_eq!(services, [&json!(ACI_DELEGATION)]);

    let group = group_requests(&h, &state, "PUT")[0].body.clone().expect("a body");
    let ids = group.pointer("/properties/subnetIds").and_then(Value::as_array).expect("ids");
    let ids: Vec<&str> = ids.iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(ids.len() == 1 && ids[0].eq_ignore_ascii_case(&subnet), "{ids:?}");
}

const SHARED_RG: &str =
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/network-rg";

fn shared_vnet_id() -> String {
    format!("{SHARED_RG}/providers/Microsoft.Network/virtualNetworks/shared-vnet")
}

/// A VNet someone else owns, with subnet `aci` delegated to ACI or not.
async fn seed_shared_vnet(h: &Harness, delegated: bool) {
    let seeded = h.sim().seed_request("PUT", SHARED_RG, json!({"location": "northeurope"})).await;
    seeded.expect("resource group seeded");
    let delegations = match delegated {
        true => json!([{"name": "aci", "properties": {"serviceName": ACI_DELEGATION}}]),
        false => json!([]),
    };
    let vnet = json!({"location": "northeurope", "properties": {
        "addressSpace": {"addressPrefixes": ["10.50.0.0/16"]},
        "subnets": [{"name": "aci", "properties": {
            "addressPrefix": "10.50.1.0/24", "delegations": delegations}}]}});
    h.sim().seed_request("PUT", &shared_vnet_id(), vnet).await.expect("vnet seeded");
}

fn existing_vnet_spec() -> Value {
    let changes = json!({"new_vnet_enabled": false, "vnet_name": "shared-vnet",
        "vnet_resource_group": "network-rg", "subnet_name": "aci"});
    with(example("private.json"), changes)
}

/// No request of ours ever wrote to the VNet we do not own.
fn assert_shared_vnet_untouched(h: &Harness) {
    let requests = h.sim().request_log();
    let writes: Vec<&LoggedRequest> = log::containing(&requests, "PUT", "/shared-vnet")
        .into_iter()
        .chain(log::containing(&requests, "DELETE", "/shared-vnet"))
        .collect();
    assert_eq!(writes, Vec::<&LoggedRequest>::new());
    let live =
        h.sim().inventory().into_iter().any(|r| r.id.eq_ignore_ascii_case(&shared_vnet_id()));
    assert!(live, "the shared VNet still exists");
}

#[tokio::test]
async fn b09_existing_subnet_without_delegation_fails_at_verify_before_any_group_put() {
    let h = support::start(Setup::default()).await;
    seed_shared_vnet(&h, false).await;

    let state = h.deploy(&existing_vnet_spec(), "b09-undelegated").await;

    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    let got = (failure.step.as_str(), failure.code.as_str());
    assert_eq!(got, ("subnet", "SubnetMissingRequiredDelegation"));
    let requests = h.sim().request_log();
    let group_puts = log::containing(&requests, "PUT", "/containerGroups/");
    assert!(group_puts.is_empty(), "no container group PUT");
    assert_nothing_left(&h, &state);
    assert_shared_vnet_untouched(&h);
}

#[tokio::test]
async fn b09_existing_delegated_subnet_is_used_and_survives_teardown() {
    let h = support::start(Setup::default()).await;
    seed_shared_vnet(&h, true).await;

    let state = h.deploy(&existing_vnet_spec(), "b09-delegated").await;
    assert_eq!(state.status, DeploymentStatus::Succeeded, "{}", support::history(&state));
    h.rt.app.deployments.teardown(&state.deployment_id).await.expect("teardown");
    h.run().await;

    let state = h.state(&state.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::TornDown, "{}", support::history(&state));
    assert_nothing_left(&h, &state);
    assert_shared_vnet_untouched(&h);
}

#[tokio::test]
async fn b11_capacity_failure_deletes_the_partial_group_and_retries_a_bounded_number_of_times() {
    let setup = Setup::default();
    let cfg = setup.saga.clone();
    let h = support::start(setup).await;
    let accepted = h.submit(&example("enhanced.json"), "b11").await;
    let group = resource_id(&h.plan(&accepted), "container_group").expect("group");
    let capacity = lro_fails("InsufficientCapacity", CAPACITY_TEXT);
    h.sim().faults().push(on("PUT", &group, capacity)).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    assert_eq!((failure.step.as_str(), failure.code.as_str()), ("container_group", "Capacity"));
    assert!(failure.message.contains("requested resource is not available"), "{failure:?}");

    // Every attempt's partial group is deleted; the next attempt waits the configured delay.
    let puts = group_requests(&h, &state, "PUT");
    let deletes = group_requests(&h, &state, "DELETE");
    let attempts = cfg.max_capacity_retries as usize + 1;
    assert_eq!(puts.len(), attempts, "bounded attempts");
    assert_eq!(deletes.len(), attempts, "each partial group deleted");
    for retry in 1..attempts {
        let waited = log::gap_secs(&deletes[retry - 1], &puts[retry]);
        let delay = cfg.capacity_retry_delay_secs as i64;
        assert!(waited >= delay, "retry {retry} after {waited}s, configured {delay}s");
    }
    let released = state.history.iter().any(|e| e.detail.contains("key released"));
    assert!(!released, "no success was recorded and the key never released");
    assert_nothing_left(&h, &state);
}

#[tokio::test]
async fn b12_upper_case_repository_path_is_refused_before_any_request() {
    let h = support::start(Setup::default()).await;
    let image = format!("ghcr.io/Owner/img@{}", support::digest('d'));
    let spec = with(example("standard.json"), json!({ "workload_image": image }));

    let result = h.rt.app.deployments.submit(&spec, None).await;

    let Err(WorkerError::InvalidSpec(errors)) = result else { panic!("accepted: {result:?}") };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["workload_image"], "{errors}");
    assert!(errors.0[0].fix.contains("ghcr.io/owner/img"), "{errors}");
    assert!(h.sim().request_log().is_empty());
}

/// Creating a group whose operation never finishes, optionally showing `event`.
async fn stuck_group(event: Option<&str>, key: &str) -> (Harness, SagaState, u64) {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("standard.json"), key).await;
    let plan = h.plan(&accepted);
    let group = resource_id(&plan, "container_group").expect("group");
    let deadline = plan.steps.iter().find(|s| s.name.as_str() == "container_group");
    let deadline = deadline.expect("group step").deadline_secs;
    let stuck = Fault::LroStuck { event: event.map(str::to_owned) };
    h.sim().faults().push(on("PUT", &group, stuck)).expect("rule");

    h.run().await;

    let state = h.state(&accepted.deployment_id).await;
    (h, state, deadline)
}

/// Seconds from the group step's start to its failure, in simulated time.
fn time_to_failure(state: &SagaState) -> i64 {
    let at = |event: &str| {
        let entry = state.history.iter().find(|e| {
            e.event == event && e.step.as_ref().is_some_and(|s| s.as_str() == "container_group")
        });
        entry.expect(event).at
    };
    (at("failed") - at("started")).whole_seconds()
}

#[tokio::test]
async fn b12_group_waiting_on_an_image_pull_failure_fails_before_the_step_deadline() {
    let event = "Failed to pull image \"ghcr.io/owner/img:1\": pull access denied";
    let (h, state, deadline) = stuck_group(Some(event), "b12-pull").await;

    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    assert_eq!(
        (failure.step.as_str(), failure.code.as_str()),
        ("container_group", "ImagePullFailed")
    );
    assert!(failure.message.contains("pull access denied"), "{failure:?}");
    assert!(time_to_failure(&state) < deadline as i64, "failed fast, not at the deadline");
    assert!(!group_requests(&h, &state, "DELETE").is_empty(), "the group is deleted");
    assert_nothing_left(&h, &state);
}

#[tokio::test]
async fn b12_group_stuck_without_events_fails_at_the_step_deadline_and_is_deleted() {
    let (h, state, deadline) = stuck_group(None, "b12-silent").await;

    assert_eq!(state.status, DeploymentStatus::Compensated, "{}", support::history(&state));
    let failure = state.failure.as_ref().expect("failure");
    let got = (failure.step.as_str(), failure.code.as_str());
    assert_eq!(got, ("container_group", "StepDeadlineExceeded"));
    let waited = time_to_failure(&state);
    let poll = support::saga_config().default_poll_secs as i64;
    assert!(waited >= deadline as i64, "gave up after {waited}s, deadline {deadline}s");
    assert!(waited <= deadline as i64 + poll, "gave up at the first poll past the deadline");
    assert!(!group_requests(&h, &state, "DELETE").is_empty(), "a DELETE was issued");
    assert_nothing_left(&h, &state);
}

//! How Azure's failures come back as outcomes: confidential-container policy denials (B06,
//! B07, B08), capacity (B11) and container groups that will never start (B12).

mod support;

use polaris_core::action::{Action, FailureClass, OperationKind, Outcome, PendingOperation};
use polaris_core::plan::model::Ownership;
use serde_json::{Value, json};
use support::{FakeAzure, Reply, SUB, ctx, executor, our_tags, owner, resource, rid};

fn cg_id() -> String {
    rid("Microsoft.ContainerInstance/containerGroups/cg-a")
}

fn op_path() -> String {
    let provider = "Microsoft.ContainerInstance/locations/westeurope";
    format!("/subscriptions/{SUB}/providers/{provider}/operations/op-1")
}

fn cg_body() -> Value {
    json!({"location": "westeurope", "tags": our_tags(), "properties": {"sku": "Confidential",
        "confidentialComputeProperties": {"ccePolicy": "cG9saWN5"}, "containers": []}})
}

fn ensure_cg() -> Action {
    let res = resource(&cg_id(), cg_body(), Ownership::Tag, &[("ip", "/properties/ipAddress/ip")]);
    Action::Ensure { owner: owner(), resource: res }
}

fn poll_op(fake: &FakeAzure) -> Action {
    Action::Poll {
        operation: PendingOperation {
            kind: OperationKind::AsyncOperation,
            url: fake.url(&format!("{}?api-version=2023-05-01", op_path())),
            resource_id: cg_id(),
            api_version: "2024-01-01".into(),
            removing: false,
        },
        outputs: vec![],
    }
}

fn pending_group(containers: Value) -> Value {
    json!({"id": cg_id(), "tags": our_tags(), "properties": {"provisioningState": "Pending",
        "containers": containers}})
}

/// The PUT is accepted with an operation to follow.
fn accept_put(fake: &FakeAzure) {
    let url = fake.url(&format!("{}?api-version=2023-05-01", op_path()));
    fake.on(
        "PUT",
        &cg_id(),
        vec![Reply::json(201, pending_group(json!([]))).header("azure-asyncoperation", &url)],
    );
}

fn failed_operation(code: &str, message: &str) -> Reply {
    Reply::json(200, json!({"status": "Failed", "error": {"code": code, "message": message}}))
}

async fn failure_of(
    exec: &polaris_azure::ArmExecutor,
    action: &Action,
) -> polaris_core::action::StepFailure {
    match exec.execute(action, &ctx("container_group")).await {
        Outcome::Failed(failure) => failure,
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn b06_invalid_env_list_is_a_permanent_policy_denial_naming_the_variable() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    accept_put(&fake);
    let denial = "Container 'skr' creation failed: invalid env list: APP_IDENTITY_ENDPOINT";
    let failed = failed_operation("ContainerGroupDeploymentFailed", denial);
    fake.on("GET", &op_path(), vec![failed]);

    let started = exec.execute(&ensure_cg(), &ctx("container_group")).await;
    assert!(matches!(started, Outcome::InProgress { .. }), "{started:?}");
    let failure = failure_of(&exec, &poll_op(&fake)).await;

    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "CcePolicyDenied")
    );
    assert!(failure.message.contains("APP_IDENTITY_ENDPOINT"), "{}", failure.message);
    assert_eq!(fake.count("PUT", &cg_id()), 1, "no re-PUT");
}

#[tokio::test]
async fn b07_device_hash_not_found_is_permanent() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on(
        "GET",
        &op_path(),
        vec![failed_operation(
            "Failed",
            "failed to create container: mount denied by policy: deviceHash not found",
        )],
    );

    let failure = failure_of(&exec, &poll_op(&fake)).await;

    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "CcePolicyLayerMismatch")
    );
    assert!(failure.message.contains("deviceHash not found"));
}

#[tokio::test]
async fn b08_invalid_cce_policy_is_terminal_after_exactly_one_put() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on(
        "PUT",
        &cg_id(),
        vec![Reply::error(
            400,
            "InvalidCcePolicy",
            "The CCE Policy is invalid: cannot be empty for confidential container groups",
        )],
    );

    let failure = failure_of(&exec, &ensure_cg()).await;

    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "InvalidCcePolicy")
    );
    assert_eq!(fake.count("PUT", &cg_id()), 1);
    assert!(failure.request_id.is_some());
}

#[tokio::test]
async fn b11_capacity_after_in_progress_is_classified_as_capacity() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on("GET", &cg_id(), vec![Reply::json(200, pending_group(json!([])))]);
    fake.on(
        "GET",
        &op_path(),
        vec![
            Reply::json(200, json!({"status": "InProgress"})),
            failed_operation(
                "InsufficientCapacity",
                "The requested resource with 'CPU: 4, memory: 16 GB' \
            is not available in the location 'westeurope' at this moment.",
            ),
        ],
    );

    let first = exec.execute(&poll_op(&fake), &ctx("container_group")).await;
    assert!(matches!(first, Outcome::InProgress { .. }), "{first:?}");
    let failure = failure_of(&exec, &poll_op(&fake)).await;

    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Capacity, "InsufficientCapacity")
    );
}

#[tokio::test]
async fn b11_synchronous_409_service_unavailable_is_capacity() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on(
        "PUT",
        &cg_id(),
        vec![Reply::error(
            409,
            "ServiceUnavailable",
            "The requested resource is not available in the location 'westeurope' at this moment.",
        )],
    );

    let failure = failure_of(&exec, &ensure_cg()).await;

    assert_eq!(failure.class, FailureClass::Capacity);
    assert_eq!(fake.count("PUT", &cg_id()), 1);
}

#[tokio::test]
async fn b12_image_pull_failure_in_the_instance_view_fails_fast() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on("GET", &op_path(), vec![Reply::json(200, json!({"status": "InProgress"}))]);
    let containers = json!([{"name": "polaris-proxy", "properties": {"instanceView": {
        "restartCount": 0,
        "currentState": {"state": "Waiting", "detailStatus": "ImagePullBackOff"},
        "events": [{"count": 4, "name": "Failed", "type": "Warning",
            "message": "Failed to pull image \"ghcr.io/Owner/proxy:1\": manifest unknown"}]}}}]);
    fake.on("GET", &cg_id(), vec![Reply::json(200, pending_group(containers))]);

    let failure = failure_of(&exec, &poll_op(&fake)).await;

    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Permanent, "ImagePullFailed")
    );
    assert!(failure.message.contains("polaris-proxy"), "{}", failure.message);
}

#[tokio::test]
async fn b12_quiet_pending_group_stays_in_progress() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    fake.on(
        "GET",
        &op_path(),
        vec![Reply::json(200, json!({"status": "Running"})).header("Retry-After", "20")],
    );
    let containers = json!([{"name": "polaris-proxy", "properties": {"instanceView": {
        "currentState": {"state": "Waiting", "detailStatus": "ContainerCreating"},
        "events": []}}}]);
    fake.on("GET", &cg_id(), vec![Reply::json(200, pending_group(containers))]);

    let outcome = exec.execute(&poll_op(&fake), &ctx("container_group")).await;

    let Outcome::InProgress { retry_after_secs, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(retry_after_secs, Some(20));
}

#[tokio::test]
async fn b12_pull_failure_is_seen_when_polling_the_resource_state_too() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let containers = json!([{"name": "workload", "properties": {"instanceView": {
        "currentState": {"state": "Waiting", "detailStatus": "ErrImagePull"}}}}]);
    fake.on("GET", &cg_id(), vec![Reply::json(200, pending_group(containers))]);
    let poll = Action::Poll {
        operation: PendingOperation {
            kind: OperationKind::ResourceState,
            url: cg_id(),
            resource_id: cg_id(),
            api_version: "2024-01-01".into(),
            removing: false,
        },
        outputs: vec![],
    };

    let failure = failure_of(&exec, &poll).await;

    assert_eq!(failure.code, "ImagePullFailed");
}

//! `Ensure`, `Poll` and ownership against the scripted fake: exact request sequences for
//! both LRO styles, adoption, refusal, and secrets that reach only the outgoing body.

mod support;

use std::sync::Arc;

use polaris_azure::RetryPolicy;
use polaris_core::action::{Action, FailureClass, OperationKind, Outcome, PendingOperation};
use polaris_core::plan::model::{OutputSelector, Ownership};
use serde_json::json;
use support::{FakeAzure, MemorySecrets, OWNER, Reply, ctx, executor, executor_with, our_tags};
use support::{owner, resource, rid};

fn vnet_id() -> String {
    rid("Microsoft.Network/virtualNetworks/vnet-a")
}

fn vnet_body() -> serde_json::Value {
    json!({"location": "westeurope", "tags": our_tags(),
        "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}})
}

fn ensure(id: &str, body: serde_json::Value, ownership: Ownership) -> Action {
    let outputs = [("id", "/id"), ("guid", "/properties/resourceGuid")];
    Action::Ensure { owner: owner(), resource: resource(id, body, ownership, &outputs) }
}

fn poll(operation: PendingOperation) -> Action {
    let outputs =
        vec![OutputSelector { name: "guid".into(), pointer: "/properties/resourceGuid".into() }];
    Action::Poll { operation, outputs }
}

fn in_progress(outcome: &Outcome) -> PendingOperation {
    match outcome {
        Outcome::InProgress { operation, .. } => operation.clone(),
        other => panic!("expected InProgress, got {other:?}"),
    }
}

#[tokio::test]
async fn put_followed_through_azure_async_operation_then_final_get() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = vnet_id();
    let op_path = format!(
        "/subscriptions/{}/providers/Microsoft.Network/locations/westeurope/operations/op1",
        support::SUB
    );
    let op_url = fake.url(&format!("{op_path}?api-version=2024-01-01"));
    let done_body = json!({"id": id, "tags": our_tags(),
        "properties": {"provisioningState": "Succeeded", "resourceGuid": "guid-1"}});
    fake.on(
        "GET",
        &id,
        vec![Reply::error(404, "ResourceNotFound", "no"), Reply::json(200, done_body)],
    );
    fake.on(
        "PUT",
        &id,
        vec![
            Reply::json(201, json!({"id": id, "properties": {"provisioningState": "Updating"}}))
                .header("Azure-AsyncOperation", &op_url)
                .header("Retry-After", "10"),
        ],
    );
    fake.on(
        "GET",
        &op_path,
        vec![
            Reply::json(200, json!({"status": "InProgress"})),
            Reply::json(200, json!({"status": "Succeeded"})),
        ],
    );

    let started = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;
    let Outcome::InProgress { operation, retry_after_secs, request_id } = &started else {
        panic!("expected InProgress, got {started:?}");
    };
    assert_eq!(operation.kind, OperationKind::AsyncOperation);
    assert_eq!(operation.url, op_url);
    assert_eq!(*retry_after_secs, Some(10));
    assert!(request_id.is_some());

    let second = exec.execute(&poll(operation.clone()), &ctx("vnet")).await;
    assert_eq!(in_progress(&second).kind, OperationKind::AsyncOperation);

    let third = exec.execute(&poll(operation.clone()), &ctx("vnet")).await;
    let Outcome::Done { outputs, adopted, request_id, .. } = third else {
        panic!("expected Done, got {third:?}");
    };
    assert_eq!(outputs["guid"], "guid-1");
    assert!(!adopted);
    assert!(request_id.is_some());

    let sequence: Vec<_> = fake.sequence().into_iter().map(|(m, p)| format!("{m} {p}")).collect();
    assert_eq!(
        sequence,
        vec![
            format!("GET {id}"),
            format!("PUT {id}"),
            format!("GET {op_path}"),
            format!("GET {op_path}"),
            format!("GET {id}"),
        ]
    );
}

#[tokio::test]
async fn put_answered_202_with_location_is_polled_until_200() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = vnet_id();
    let result_path =
        format!("/subscriptions/{}/providers/Microsoft.Network/operationResults/r1", support::SUB);
    let done_body =
        json!({"id": id, "properties": {"provisioningState": "Succeeded", "resourceGuid": "g2"}});
    fake.on(
        "GET",
        &id,
        vec![Reply::error(404, "ResourceNotFound", "no"), Reply::json(200, done_body)],
    );
    fake.on("PUT", &id, vec![Reply::empty(202).header("Location", &fake.url(&result_path))]);
    fake.on(
        "GET",
        &result_path,
        vec![Reply::empty(202).header("Retry-After", "15"), Reply::empty(200)],
    );

    let started = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;
    let operation = in_progress(&started);
    assert_eq!(operation.kind, OperationKind::Location);

    let running = exec.execute(&poll(operation.clone()), &ctx("vnet")).await;
    let Outcome::InProgress { retry_after_secs, .. } = running else { panic!("{running:?}") };
    assert_eq!(retry_after_secs, Some(15));

    let finished = exec.execute(&poll(operation), &ctx("vnet")).await;
    let Outcome::Done { outputs, .. } = finished else { panic!("{finished:?}") };
    assert_eq!(outputs["guid"], "g2");
    assert_eq!(fake.count("PUT", &id), 1);
}

#[tokio::test]
async fn synchronous_put_is_done_and_missing_outputs_are_read_back() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.ManagedIdentity/userAssignedIdentities/id-a");
    let full = json!({"id": id, "properties": {"resourceGuid": "from-get"}});
    fake.on("GET", &id, vec![Reply::error(404, "ResourceNotFound", "no"), Reply::json(200, full)]);
    // No provisioningState (synchronous RP) and no resourceGuid in the PUT answer.
    fake.on("PUT", &id, vec![Reply::json(201, json!({"id": id, "properties": {}}))]);

    let outcome =
        exec.execute(&ensure(&id, json!({"tags": our_tags()}), Ownership::Tag), &ctx("id")).await;

    let Outcome::Done { outputs, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(outputs["id"], id);
    assert_eq!(outputs["guid"], "from-get");
    assert_eq!(fake.count("GET", &id), 2);
}

#[tokio::test]
async fn our_existing_resource_is_adopted_without_a_put() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = vnet_id();
    let existing = json!({"id": id, "tags": our_tags(),
        "properties": {"provisioningState": "Succeeded", "resourceGuid": "old"}});
    fake.on("GET", &id, vec![Reply::json(200, existing)]);

    let outcome = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;

    let Outcome::Done { adopted, outputs, .. } = outcome else { panic!("{outcome:?}") };
    assert!(adopted);
    assert_eq!(outputs["guid"], "old");
    assert_eq!(fake.count_method("PUT"), 0);
}

#[tokio::test]
async fn our_resource_still_provisioning_is_followed_by_resource_state() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = vnet_id();
    let existing =
        json!({"id": id, "tags": our_tags(), "properties": {"provisioningState": "Updating"}});
    fake.on("GET", &id, vec![Reply::json(200, existing)]);

    let outcome = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;

    let operation = in_progress(&outcome);
    assert_eq!(operation.kind, OperationKind::ResourceState);
    assert_eq!(operation.resource_id, id);
    assert_eq!(fake.count_method("PUT"), 0);
}

#[tokio::test]
async fn a_resource_without_our_tag_is_never_put_over() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = vnet_id();
    for tags in [json!({}), json!({"polaris-deployment": "someone-else"})] {
        let existing =
            json!({"id": id, "tags": tags, "properties": {"provisioningState": "Succeeded"}});
        fake.on("GET", &id, vec![Reply::json(200, existing)]);

        let outcome = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;

        let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
        assert_eq!((failure.class, failure.code.as_str()), (FailureClass::Permanent, "NotOwned"));
        assert!(failure.message.contains(OWNER));
        assert!(failure.request_id.is_some());
    }
    assert_eq!(fake.count_method("PUT"), 0);
    assert_eq!(fake.count_method("DELETE"), 0);
}

#[tokio::test]
async fn deterministic_names_are_ours_when_they_exist() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = rid("Microsoft.Authorization/roleAssignments/5a1f0c4e-0000-5000-8000-000000000001");
    fake.on(
        "GET",
        &id,
        vec![Reply::json(200, json!({"id": id, "properties": {"principalId": "p"}}))],
    );

    let res =
        resource(&id, json!({"properties": {}}), Ownership::DeterministicName, &[("id", "/id")]);
    let action = Action::Ensure { owner: owner(), resource: res };
    let outcome = exec.execute(&action, &ctx("role")).await;

    let Outcome::Done { adopted, outputs, .. } = outcome else { panic!("{outcome:?}") };
    assert!(adopted);
    assert_eq!(outputs["id"], id);
    assert_eq!(fake.count_method("PUT"), 0);
}

#[tokio::test]
async fn missing_outputs_fail_with_the_pointer_names() {
    let fake = FakeAzure::start().await;
    let (exec, _) = executor(&fake);
    let id = vnet_id();
    let existing =
        json!({"id": id, "tags": our_tags(), "properties": {"provisioningState": "Succeeded"}});
    fake.on("GET", &id, vec![Reply::json(200, existing)]);

    let outcome = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!((failure.class, failure.code.as_str()), (FailureClass::Permanent, "OutputMissing"));
    assert!(failure.message.contains("guid"));
}

#[tokio::test]
async fn secrets_reach_only_the_put_body_and_are_redacted_from_errors() {
    let fake = FakeAzure::start().await;
    let secrets = MemorySecrets::with(OWNER, "registry-password", "s3cr3t-Passw0rd");
    let (exec, _) = executor_with(&fake, secrets, RetryPolicy::default());
    let id = rid("Microsoft.ContainerInstance/containerGroups/cg-a");
    let body = json!({"tags": our_tags(), "properties": {"imageRegistryCredentials": [
        {"server": "r.azurecr.io", "username": "u", "password": "${secret:registry-password}"}]}});
    fake.on(
        "PUT",
        &id,
        vec![Reply::error(
            400,
            "InvalidParameter",
            "registry login failed for password 's3cr3t-Passw0rd'",
        )],
    );

    let outcome = exec.execute(&ensure(&id, body, Ownership::Tag), &ctx("cg")).await;

    let sent = &fake.bodies("PUT", &id)[0];
    assert_eq!(sent["properties"]["imageRegistryCredentials"][0]["password"], "s3cr3t-Passw0rd");
    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(failure.code, "InvalidParameter");
    assert!(!failure.message.contains("s3cr3t-Passw0rd"), "{}", failure.message);
    assert!(failure.message.contains("[REDACTED]"));
}

#[tokio::test]
async fn a_missing_secret_fails_before_any_write() {
    let fake = FakeAzure::start().await;
    let (exec, _) =
        executor_with(&fake, Arc::new(MemorySecrets::default()), RetryPolicy::default());
    let id = rid("Microsoft.ContainerInstance/containerGroups/cg-a");
    let body = json!({"properties": {"x": "${secret:absent}"}});

    let outcome = exec.execute(&ensure(&id, body, Ownership::Tag), &ctx("cg")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!((failure.class, failure.code.as_str()), (FailureClass::Permanent, "SecretMissing"));
    assert_eq!(fake.count_method("PUT"), 0);
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let fake = FakeAzure::start().await;
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let clock = polaris_azure::VirtualClock::new();
    let retry = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let settings = support::settings(&fake, Arc::new(clock.clone()), retry);
    let endpoint = url::Url::parse(&format!("https://127.0.0.1:{dead}/")).expect("url");
    let arm = polaris_azure::ArmClient::new(
        endpoint,
        Arc::new(polaris_azure::LocalTokenCredential::new()),
        &settings,
    );
    let keyvault = support::keyvault_client(&fake, &settings);
    let exec = polaris_azure::ArmExecutor::new(
        arm,
        keyvault,
        Arc::new(MemorySecrets::default()),
        polaris_azure::ExecutorConfig::default(),
    );

    let outcome =
        exec.execute(&ensure(&vnet_id(), vnet_body(), Ownership::Tag), &ctx("vnet")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!(
        (failure.class, failure.code.as_str()),
        (FailureClass::Transient, "ConnectionFailed")
    );
    assert_eq!(clock.sleeps().len(), 1, "one in-process retry of a connection failure");
}

#[tokio::test]
async fn a_put_that_times_out_after_sending_has_an_unknown_outcome() {
    let fake = FakeAzure::start().await;
    let clock = polaris_azure::VirtualClock::new();
    let transport = polaris_azure::TransportConfig {
        request_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let settings =
        support::settings_with(&fake, Arc::new(clock.clone()), RetryPolicy::default(), transport);
    let credential = Arc::new(polaris_azure::LocalTokenCredential::new());
    let arm = polaris_azure::ArmClient::new(fake.base(), credential, &settings);
    let keyvault = support::keyvault_client(&fake, &settings);
    let secrets = Arc::new(MemorySecrets::default());
    let config = polaris_azure::ExecutorConfig::default();
    let exec = polaris_azure::ArmExecutor::new(arm, keyvault, secrets, config);
    let id = vnet_id();
    let slow = Reply::json(201, json!({"id": id})).delayed(std::time::Duration::from_secs(3));
    fake.on("PUT", &id, vec![slow]);

    let outcome = exec.execute(&ensure(&id, vnet_body(), Ownership::Tag), &ctx("vnet")).await;

    let Outcome::Failed(failure) = outcome else { panic!("{outcome:?}") };
    assert_eq!((failure.class, failure.code.as_str()), (FailureClass::UnknownOutcome, "Timeout"));
    assert_eq!(fake.count("PUT", &id), 1, "a write with an unknown outcome is not repeated");
    assert!(clock.sleeps().is_empty());
}

//! Fault injection: throttling, failed and stuck operations, resets, failures after write.

mod common;

use std::time::Duration;

use common::{rg_path, start, start_manual, with_version};
use polaris_sim::{AfterWrite, Fault, FaultPlan, FaultRule, LatencyProfile, OpTiming, SimConfig};
use reqwest::StatusCode;
use serde_json::json;

fn identity_path(name: &str) -> String {
    with_version(
        &format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            rg_path("f")
        ),
        "2023-01-31",
    )
}

fn group_body() -> serde_json::Value {
    json!({ "location": "westeurope", "properties": { "osType": "Linux", "sku": "Standard",
        "containers": [{ "name": "c", "properties": { "image": "registry.example/app:1",
            "resources": { "requests": { "cpu": 1, "memoryInGB": 1 } } } }] } })
}

#[tokio::test]
async fn throttling_returns_429_with_the_configured_retry_after_then_recovers() {
    let sim = start().await;
    sim.create_group("f").await;
    let throttle = Fault::Status {
        status: 429,
        code: "TooManyRequests".into(),
        message: "Rate limit".into(),
        retry_after: Some(17),
    };
    sim.handle
        .faults()
        .push(FaultRule::on("userAssignedIdentities", throttle).method("PUT").times(2))
        .unwrap();

    let first = sim.put(&identity_path("id1"), json!({ "location": "westeurope" })).await;
    let second = sim.put(&identity_path("id1"), json!({ "location": "westeurope" })).await;
    let third = sim.put(&identity_path("id1"), json!({ "location": "westeurope" })).await;

    for throttled in [&first, &second] {
        assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.header("retry-after").as_deref(), Some("17"));
        assert_eq!(throttled.body["error"]["code"], "TooManyRequests");
    }
    assert_eq!(
        third.status,
        StatusCode::CREATED,
        "the throttled PUTs must not have created anything"
    );
    assert!(sim.handle.faults().plan().rules.is_empty());
}

#[tokio::test]
async fn lro_fails_ends_the_operation_failed_with_the_error() {
    let sim = start().await;
    sim.create_group("f").await;
    let capacity = Fault::LroFails {
        code: "InsufficientCapacity".into(),
        message:
            "The requested resource is not available in the location 'westeurope' at this moment."
                .into(),
    };
    sim.handle
        .faults()
        .push(FaultRule::on("/containerGroups/", capacity).method("PUT").times(1))
        .unwrap();
    let path = with_version(
        &format!("{}/providers/Microsoft.ContainerInstance/containerGroups/cg", rg_path("f")),
        "2023-05-01",
    );

    let created = sim.put(&path, group_body()).await;
    let op = sim.wait_async(&created.header("azure-asyncoperation").unwrap()).await;
    let group = sim.get(&path).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(op["status"], "Failed");
    assert_eq!(op["error"]["code"], "InsufficientCapacity");
    assert_eq!(group.body["properties"]["provisioningState"], "Failed");
    assert!(
        group.body["properties"]["instanceView"]["events"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not available")
    );
}

#[tokio::test]
async fn lro_stuck_stays_in_progress_and_shows_a_waiting_container() {
    let latency = LatencyProfile::default().with(
        "Microsoft.ContainerInstance/containerGroups:PUT",
        OpTiming::lro(Duration::from_secs(20)),
    );
    let sim = start_manual(latency).await;
    sim.create_group("f").await;
    let event = "Failed to pull image \"registry.example/app:1\": not found";
    sim.handle
        .faults()
        .push(
            FaultRule::on("/containerGroups/", Fault::LroStuck { event: Some(event.into()) })
                .times(1),
        )
        .unwrap();
    let path = with_version(
        &format!("{}/providers/Microsoft.ContainerInstance/containerGroups/cg", rg_path("f")),
        "2023-05-01",
    );

    let created = sim.put(&path, group_body()).await;
    sim.advance(Duration::from_secs(3600)).await;
    let op = sim.get(&created.header("azure-asyncoperation").unwrap()).await;
    let group = sim.get(&path).await;

    assert_eq!(op.body["status"], "InProgress");
    assert_eq!(group.body["properties"]["provisioningState"], "Pending");
    let container = &group.body["properties"]["containers"][0]["properties"]["instanceView"];
    assert_eq!(container["currentState"]["state"], "Waiting");
    assert_eq!(container["currentState"]["detailStatus"], event);
    assert_eq!(group.body["properties"]["instanceView"]["events"][0]["message"], event);
}

#[tokio::test]
async fn after_write_fails_the_response_but_the_write_took_effect() {
    let sim = start().await;
    sim.create_group("f").await;
    let timeout = AfterWrite::Status {
        status: 504,
        code: "GatewayTimeout".into(),
        message: "timed out".into(),
        retry_after: None,
    };
    sim.handle
        .faults()
        .push(FaultRule::on("identity-a", Fault::AfterWrite { then: timeout }).times(1))
        .unwrap();
    sim.handle
        .faults()
        .push(
            FaultRule::on("identity-b", Fault::AfterWrite { then: AfterWrite::ResetConnection })
                .times(1),
        )
        .unwrap();

    let timed_out =
        sim.put(&identity_path("identity-a"), json!({ "location": "westeurope" })).await;
    let reset = sim
        .client
        .put(sim.url(&identity_path("identity-b")))
        .bearer_auth("t")
        .json(&json!({ "location": "westeurope" }))
        .send()
        .await;
    let a = sim.get(&identity_path("identity-a")).await;
    let b = sim.get(&identity_path("identity-b")).await;

    assert_eq!(timed_out.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(reset.is_err(), "the connection must be dropped");
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::OK);
    let log = sim.handle.request_log();
    let reset_entry =
        log.iter().find(|e| e.path.contains("identity-b") && e.method == "PUT").unwrap();
    assert!(reset_entry.connection_reset);
    assert_eq!(reset_entry.status, 0);
}

#[tokio::test]
async fn reset_connection_drops_the_request_without_doing_it() {
    let sim = start().await;
    sim.create_group("f").await;
    sim.handle
        .faults()
        .push(FaultRule::on("identity-r", Fault::ResetConnection).method("PUT").nth(1))
        .unwrap();

    let dropped = sim
        .client
        .put(sim.url(&identity_path("identity-r")))
        .bearer_auth("t")
        .json(&json!({ "location": "westeurope" }))
        .send()
        .await;
    let missing = sim.get(&identity_path("identity-r")).await;
    let retried = sim.put(&identity_path("identity-r"), json!({ "location": "westeurope" })).await;

    assert!(dropped.is_err());
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(retried.status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_plan_loaded_from_json_applies_from_the_start() {
    let plan = FaultPlan::from_json(
        r#"{"rules":[{
            "match":{"method":"PUT","path":{"regex":"(?i)/resourcegroups/busy$"}},
            "fault":{"kind":"status","status":409,"code":"AnotherOperationInProgress",
                     "message":"busy"},
            "times":1}]}"#,
    )
    .unwrap();
    let sim = common::start_with(SimConfig { faults: plan, ..SimConfig::default() }).await;
    let path = with_version(&rg_path("busy"), "2024-03-01");

    let first = sim.put(&path, json!({ "location": "westeurope" })).await;
    let second = sim.put(&path, json!({ "location": "westeurope" })).await;

    assert_eq!(first.status, StatusCode::CONFLICT);
    assert_eq!(first.body["error"]["code"], "AnotherOperationInProgress");
    assert_eq!(second.status, StatusCode::CREATED);
}

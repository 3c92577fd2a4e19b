//! HTTPS, authentication, api-version, common headers, ARM error shapes.

mod common;

use common::{SUB, rg_path, start, with_version};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn serves_https_with_the_generated_ca_and_rejects_untrusting_clients() {
    let sim = start().await;
    let url = sim.url(&with_version(&rg_path("rg1"), "2024-03-01"));

    let trusted = sim.client.get(&url).bearer_auth("t").send().await.unwrap();
    let untrusted = reqwest::Client::builder().no_proxy().build().unwrap().get(&url).send().await;

    assert_eq!(trusted.status(), StatusCode::NOT_FOUND);
    assert!(untrusted.is_err(), "a client without the sim CA must not connect");
    assert!(sim.handle.arm_endpoint().starts_with("https://127.0.0.1:"));
}

#[tokio::test]
async fn missing_bearer_token_is_401_authentication_failed() {
    let sim = start().await;
    let url = sim.url(&with_version(&rg_path("rg1"), "2024-03-01"));

    let response = sim.client.get(url).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
}

#[tokio::test]
async fn missing_api_version_is_400() {
    let sim = start().await;

    let resp = sim.get(&rg_path("rg1")).await;

    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.body["error"]["code"], "MissingApiVersionParameter");
}

#[tokio::test]
async fn every_response_carries_request_ids_date_and_json_type() {
    let sim = start().await;
    let url = sim.url(&with_version(&rg_path("rg1"), "2024-03-01"));

    let response = sim
        .client
        .put(url)
        .bearer_auth("t")
        .header("x-ms-client-request-id", "client-123")
        .header("x-ms-correlation-request-id", "corr-456")
        .json(&json!({ "location": "westeurope" }))
        .send()
        .await
        .unwrap();

    let header = |n: &str| response.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(uuid::Uuid::parse_str(&header("x-ms-request-id").unwrap()).is_ok());
    assert_eq!(header("x-ms-client-request-id").as_deref(), Some("client-123"));
    assert_eq!(header("x-ms-correlation-request-id").as_deref(), Some("corr-456"));
    assert!(header("date").unwrap().ends_with(" GMT"));
    assert!(header("content-type").unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn resource_groups_are_created_read_and_deleted_with_a_location_lro() {
    let sim = start().await;
    let path = with_version(&rg_path("My-RG"), "2024-03-01");

    let created =
        sim.put(&path, json!({ "location": "westeurope", "tags": { "owner": "polaris" } })).await;
    let again = sim.put(&path, json!({ "location": "westeurope" })).await;
    let read = sim.get(&with_version(&rg_path("my-rg"), "2024-03-01")).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(read.body["name"], "My-RG");
    assert_eq!(read.body["properties"]["provisioningState"], "Succeeded");

    let deleted = sim.delete(&path).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    let location = deleted.header("location").unwrap();
    let mut last = StatusCode::ACCEPTED;
    for _ in 0..50 {
        last = sim.get(&location).await.status;
        if last != StatusCode::ACCEPTED {
            break;
        }
    }
    assert_eq!(last, StatusCode::OK);
    assert_eq!(sim.get(&path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn resources_need_an_existing_group_and_a_known_type() {
    let sim = start().await;
    let vnet = format!("{}/providers/Microsoft.Network/virtualNetworks/v1", rg_path("nope"));

    let no_group =
        sim.put(&with_version(&vnet, "2024-01-01"), json!({ "location": "westeurope" })).await;
    sim.create_group("rg1").await;
    let unknown = sim
        .put(
            &with_version(
                &format!("{}/providers/Microsoft.Foo/bars/b", rg_path("rg1")),
                "2020-01-01",
            ),
            json!({ "location": "x" }),
        )
        .await;
    let missing = sim
        .get(&with_version(
            &format!("{}/providers/Microsoft.Network/virtualNetworks/v1", rg_path("rg1")),
            "2024-01-01",
        ))
        .await;

    assert_eq!(no_group.status, StatusCode::NOT_FOUND);
    assert_eq!(no_group.body["error"]["code"], "ResourceGroupNotFound");
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["error"]["code"], "InvalidResourceType");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn invalid_json_or_missing_location_is_invalid_request_content() {
    let sim = start().await;
    sim.create_group("rg1").await;
    let path = with_version(
        &format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1",
            rg_path("rg1")
        ),
        "2023-01-31",
    );

    let bad_json =
        sim.client.put(sim.url(&path)).bearer_auth("t").body("{not json").send().await.unwrap();
    let no_location = sim.put(&path, json!({ "tags": {} })).await;

    assert_eq!(bad_json.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = bad_json.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidRequestContent");
    assert_eq!(no_location.body["error"]["code"], "InvalidRequestContent");
}

#[tokio::test]
async fn names_match_case_insensitively_and_keep_their_casing() {
    let sim = start().await;
    sim.create_group("Rg-Case").await;
    let path = format!(
        "/subscriptions/{SUB}/resourceGroups/Rg-Case\
         /providers/Microsoft.ManagedIdentity/userAssignedIdentities/MyIdentity"
    );

    sim.put(&with_version(&path, "2023-01-31"), json!({ "location": "westeurope" })).await;
    let read = sim.get(&with_version(&path.to_lowercase(), "2023-01-31")).await;

    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["name"], "MyIdentity");
    assert!(read.body["id"].as_str().unwrap().ends_with("/userAssignedIdentities/MyIdentity"));
    assert_eq!(read.body["properties"]["tenantId"], common::TENANT);
}

#[tokio::test]
async fn many_simulators_run_side_by_side_on_different_ports() {
    let a = start().await;
    let b = start().await;

    a.create_group("only-in-a").await;

    assert_ne!(a.handle.arm_endpoint(), b.handle.arm_endpoint());
    assert_eq!(
        a.get(&with_version(&rg_path("only-in-a"), "2024-03-01")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get(&with_version(&rg_path("only-in-a"), "2024-03-01")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn request_log_records_method_path_body_and_status() {
    let sim = start().await;
    sim.create_group("logged").await;

    let log = sim.handle.request_log();

    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "PUT");
    assert_eq!(log[0].path, rg_path("logged"));
    assert_eq!(log[0].query, "api-version=2024-03-01");
    assert_eq!(log[0].body.as_ref().unwrap()["location"], "westeurope");
    assert_eq!(log[0].status, 201);
}

#[tokio::test]
async fn run_until_writes_the_ca_and_stops_when_told() {
    let path = std::env::temp_dir().join(format!("polaris-sim-ca-{}.pem", uuid::Uuid::new_v4()));

    polaris_sim::run_until(polaris_sim::SimConfig::default(), &path, async {}).await.unwrap();

    let pem = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

#[tokio::test]
async fn non_loopback_bind_addresses_are_refused() {
    let config = polaris_sim::SimConfig {
        bind_ip: "0.0.0.0".parse().unwrap(),
        ..polaris_sim::SimConfig::default()
    };

    let result = polaris_sim::Simulator::start(config).await;

    assert!(matches!(result, Err(polaris_sim::SimError::NotLoopback(_))));
}

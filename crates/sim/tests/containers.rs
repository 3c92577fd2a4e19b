//! Container groups: validation, LRO, secrets, and the simulated Polaris proxy listener.

mod common;

use std::time::Duration;

use common::{
    ALLOW_ALL_CCE, SUB, Sim, exportable_key_body, rg_path, start, start_manual, with_version,
};
use polaris_sim::{Fault, FaultRule, LatencyProfile, OpTiming};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ACI: &str = "2023-05-01";

fn group_path(rg: &str, name: &str) -> String {
    format!("{}/providers/Microsoft.ContainerInstance/containerGroups/{name}", rg_path(rg))
}

/// The group our orchestrator deploys: SKR sidecar, proxy on 3000, workload.
fn polaris_group(vault: &str, key: &str, identity: Option<&str>, port: u16) -> Value {
    let env = json!([
        { "name": "POLARIS_CONTAINER_KEY_TYPE", "value": "azure-skr" },
        { "name": "POLARIS_CONTAINER_WORKLOAD_BASE_URL", "value": "http://localhost:8000" },
        { "name": "POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT",
            "value": "sharedweu.weu.attest.azure.net" },
        { "name": "POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT",
            "value": format!("{vault}.vault.azure.net") },
        { "name": "POLARIS_CONTAINER_AZURE_SKR_KID", "secureValue": key },
    ]);
    let mut body = json!({
        "location": "westeurope",
        "properties": {
            "sku": "Confidential",
            "osType": "Linux",
            "confidentialComputeProperties": { "ccePolicy": ALLOW_ALL_CCE },
            "containers": [
                { "name": "skr-sidecar-container",
                    "properties": { "image": "mcr.microsoft.com/aci/skr:2.7",
                    "command": ["/skr.sh"], "resources": { "requests": { "cpu": 1,
                        "memoryInGB": 1 } } } },
                { "name": "polaris-secure-proxy",
                    "properties": { "image": "fr0ntierxpublic.azurecr.io/polaris-proxy:latest",
                    "ports": [{ "port": port, "protocol": "TCP" }], "environmentVariables": env,
                    "resources": { "requests": { "cpu": 1, "memoryInGB": 1 } } } },
                { "name": "workload",
                    "properties": { "image": "registry.example/workload@sha256:abc",
                    "environmentVariables": [{ "name": "HF_TOKEN", "secureValue": "hf_secret" }],
                    "resources": { "requests": { "cpu": 1, "memoryInGB": 4 } } } },
            ],
            "imageRegistryCredentials": [{ "server": "registry.example", "username": "puller",
                "password": "hunter2" }],
            "ipAddress": { "type": "Public", "dnsNameLabel": "polaris-demo",
                "ports": [{ "port": port, "protocol": "TCP" }] },
        },
    });
    if let Some(identity) = identity {
        body["identity"] =
            json!({ "type": "UserAssigned", "userAssignedIdentities": { identity: {} } });
    }
    body
}

async fn put_group(sim: &Sim, rg: &str, name: &str, body: Value) -> common::Resp {
    sim.put(&with_version(&group_path(rg, name), ACI), body).await
}

/// Vault, exportable key and identity; optionally the Release User role on the vault.
async fn key_release_setup(sim: &Sim, vault: &str, grant: bool) -> String {
    sim.create_group("app").await;
    let vault_id = sim.create_vault("app", vault, "premium", json!({})).await;
    let key = sim
        .put(
            &with_version(&format!("{vault_id}/keys/proxy-key"), "2023-07-01"),
            exportable_key_body(),
        )
        .await;
    assert_eq!(key.status, StatusCode::OK, "{:?}", key.body);
    let (identity, principal) = sim.create_identity("app", "cg-identity").await;
    if grant {
        let ra = format!(
            "{vault_id}/providers/Microsoft.Authorization/roleAssignments/{}",
            uuid::Uuid::new_v4()
        );
        let body = json!({ "properties": {
            "roleDefinitionId": common::release_role_id(),
            "principalId": principal, "principalType": "ServicePrincipal" } });
        assert_eq!(
            sim.put(&with_version(&ra, "2022-04-01"), body).await.status,
            StatusCode::CREATED
        );
    }
    identity
}

async fn running_group(sim: &Sim, rg: &str, name: &str, body: Value) -> Value {
    let created = put_group(sim, rg, name, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let op = sim.wait_async(&created.header("azure-asyncoperation").unwrap()).await;
    assert_eq!(op["status"], "Succeeded", "{op:?}");
    sim.get(&with_version(&group_path(rg, name), ACI)).await.body
}

fn proxy_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn proxy_get(group: &Value, path: &str) -> (StatusCode, Value) {
    let ip = group["properties"]["ipAddress"]["ip"].as_str().unwrap();
    let port = group["properties"]["ipAddress"]["ports"][0]["port"].as_u64().unwrap();
    let response = proxy_client().get(format!("http://{ip}:{port}{path}")).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn put_starts_pending_and_finishes_running_on_the_clock() {
    let latency = LatencyProfile::default().with(
        "Microsoft.ContainerInstance/containerGroups:PUT",
        OpTiming::lro(Duration::from_secs(60)),
    );
    let sim = start_manual(latency).await;
    sim.create_group("app").await;

    let created = put_group(&sim, "app", "cg", polaris_group("v", "k", None, 3000)).await;
    let status_url = created.header("azure-asyncoperation").unwrap();
    let pending = sim.get(&status_url).await;
    sim.advance(Duration::from_secs(60)).await;
    let done = sim.get(&status_url).await;
    let group = sim.get(&with_version(&group_path("app", "cg"), ACI)).await.body;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["properties"]["provisioningState"], "Pending");
    let operations = "/providers/Microsoft.ContainerInstance/locations/westeurope/operations/";
    assert!(status_url.contains(&format!("/subscriptions/{SUB}{operations}")));
    assert_eq!(pending.body["status"], "InProgress");
    assert_eq!(done.body["status"], "Succeeded");
    assert_eq!(group["properties"]["provisioningState"], "Succeeded");
    assert_eq!(group["properties"]["instanceView"]["state"], "Running");
    let containers = group["properties"]["containers"].as_array().unwrap();
    assert!(
        containers
            .iter()
            .all(|c| c["properties"]["instanceView"]["currentState"]["state"] == "Running")
    );
    assert_eq!(
        group["properties"]["ipAddress"]["fqdn"],
        "polaris-demo.westeurope.azurecontainer.io"
    );
}

#[tokio::test]
async fn get_never_returns_registry_passwords_or_secure_values() {
    let sim = start().await;
    sim.create_group("app").await;

    let created = put_group(&sim, "app", "cg", polaris_group("v", "k", None, 3000)).await;
    let read = sim.get(&with_version(&group_path("app", "cg"), ACI)).await;

    for body in [&created.body, &read.body] {
        let text = body.to_string();
        assert!(!text.contains("hunter2"), "registry password leaked");
        assert!(!text.contains("hf_secret"), "secure env value leaked");
        assert_eq!(body["properties"]["imageRegistryCredentials"][0]["username"], "puller");
    }
    let workload_env =
        &read.body["properties"]["containers"][2]["properties"]["environmentVariables"][0];
    assert_eq!(workload_env, &json!({ "name": "HF_TOKEN" }));
}

#[tokio::test]
async fn confidential_groups_need_a_non_empty_cce_policy() {
    let sim = start().await;
    sim.create_group("app").await;
    let mut empty = polaris_group("v", "k", None, 3000);
    empty["properties"]["confidentialComputeProperties"]["ccePolicy"] = json!("");
    let mut absent = polaris_group("v", "k", None, 3000);
    absent["properties"].as_object_mut().unwrap().remove("confidentialComputeProperties");

    let rejected = put_group(&sim, "app", "empty", empty).await;
    let defaulted = put_group(&sim, "app", "absent", absent).await;

    assert_eq!(rejected.status, StatusCode::BAD_REQUEST);
    assert_eq!(rejected.body["error"]["code"], "InvalidCcePolicy");
    assert_eq!(defaulted.status, StatusCode::CREATED);
    assert_eq!(
        defaulted.body["properties"]["confidentialComputeProperties"]["ccePolicy"],
        ALLOW_ALL_CCE
    );
}

#[tokio::test]
async fn subnet_must_be_delegated_to_container_groups() {
    let sim = start().await;
    sim.create_group("app").await;
    let plain = sim.create_subnet("app", "vnet-plain", "s", false).await;
    let delegated = sim.create_subnet("app", "vnet-aci", "s", true).await;
    let with_subnet = |subnet: &str| {
        let mut body = polaris_group("v", "k", None, 3000);
        body["properties"]["ipAddress"] =
            json!({ "type": "Private", "ports": [{ "port": 3000, "protocol": "TCP" }] });
        body["properties"]["subnetIds"] = json!([{ "id": subnet }]);
        body
    };

    let refused = put_group(&sim, "app", "cg1", with_subnet(&plain)).await;
    let accepted = put_group(&sim, "app", "cg2", with_subnet(&delegated)).await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["error"]["code"], "SubnetMissingRequiredDelegation");
    assert_eq!(accepted.status, StatusCode::CREATED);
    assert!(accepted.body["properties"]["ipAddress"]["ip"].as_str().unwrap().starts_with("127."));
}

#[tokio::test]
async fn seeded_vnet_with_undelegated_subnet_is_refused() {
    let sim = start().await;
    sim.create_group("app").await;
    let vnet = format!("{}/providers/Microsoft.Network/virtualNetworks/existing", rg_path("app"));
    sim.handle.seed_resource(
        &vnet,
        json!({ "location": "westeurope",
        "properties": { "addressSpace": { "addressPrefixes": ["10.9.0.0/16"] } } }),
    );
    sim.handle.seed_resource(
        &format!("{vnet}/subnets/legacy"),
        json!({ "properties": { "addressPrefix": "10.9.1.0/24" } }),
    );
    let mut body = polaris_group("v", "k", None, 3000);
    body["properties"]["subnetIds"] = json!([{ "id": format!("{vnet}/subnets/legacy") }]);

    let refused = put_group(&sim, "app", "cg", body).await;
    let listed = sim.get(&with_version(&vnet, "2024-01-01")).await;

    assert_eq!(refused.body["error"]["code"], "SubnetMissingRequiredDelegation");
    assert_eq!(listed.body["properties"]["subnets"][0]["name"], "legacy");
    let seeded = sim.handle.inventory().into_iter().find(|r| r.id == vnet).unwrap();
    assert!(seeded.tags.is_empty());
}

#[tokio::test]
async fn proxy_listener_answers_health_and_releases_the_key_with_the_role() {
    let sim = start().await;
    let identity = key_release_setup(&sim, "kv-release-ok", true).await;

    let group = running_group(
        &sim,
        "app",
        "cg",
        polaris_group("kv-release-ok", "proxy-key", Some(&identity), 3000),
    )
    .await;
    let (health_status, health) = proxy_get(&group, "/polaris-container/health").await;
    let (key_status, key) = proxy_get(&group, "/polaris-container/publicKey").await;
    let (echo_status, echo) = proxy_get(&group, "/v1/models").await;

    assert_eq!(health_status, StatusCode::OK);
    assert_eq!(health, json!({ "status": "ok" }));
    assert_eq!(key_status, StatusCode::OK, "{key:?}");
    assert!(key["publicKey"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(echo_status, StatusCode::OK);
    assert_eq!(echo["path"], "/v1/models");
    let id = group["id"].as_str().unwrap();
    assert_eq!(sim.handle.proxy_addresses(id)[0].port(), 3000);
}

#[tokio::test]
async fn key_release_fails_without_the_release_role() {
    let sim = start().await;
    let identity = key_release_setup(&sim, "kv-release-no", false).await;

    let group = running_group(
        &sim,
        "app",
        "cg",
        polaris_group("kv-release-no", "proxy-key", Some(&identity), 3000),
    )
    .await;
    let (status, body) = proxy_get(&group, "/polaris-container/publicKey").await;
    let (missing_status, missing) = {
        let other = running_group(
            &sim,
            "app",
            "cg2",
            polaris_group("kv-release-no", "no-such-key", Some(&identity), 3000),
        )
        .await;
        proxy_get(&other, "/polaris-container/publicKey").await
    };

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("not authorized"), "{body:?}");
    assert_eq!(missing_status, StatusCode::BAD_REQUEST);
    assert!(missing["error"].as_str().unwrap().contains("not found"), "{missing:?}");
}

#[tokio::test]
async fn ephemeral_groups_serve_a_generated_key() {
    let sim = start().await;
    sim.create_group("app").await;
    let mut body = polaris_group("v", "k", None, 3000);
    body["properties"]["containers"][1]["properties"]["environmentVariables"][0]["value"] =
        json!("ephemeral");

    let group = running_group(&sim, "app", "cg", body).await;
    let (status, key) = proxy_get(&group, "/polaris-container/publicKey").await;

    assert_eq!(status, StatusCode::OK);
    assert!(key["publicKey"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
}

#[tokio::test]
async fn listener_faults_make_health_503_and_key_release_fail() {
    let sim = start().await;
    let identity = key_release_setup(&sim, "kv-faulty", true).await;
    let group = running_group(
        &sim,
        "app",
        "cg",
        polaris_group("kv-faulty", "proxy-key", Some(&identity), 3000),
    )
    .await;
    let faults = sim.handle.faults();
    faults.push(FaultRule::on("containerGroups/cg/", Fault::HealthCheck503).times(1)).unwrap();
    faults
        .push(FaultRule::on(
            "/polaris-container/publicKey",
            Fault::KeyReleaseFails { reason: "deviceHash not found".into() },
        ))
        .unwrap();

    let (first, _) = proxy_get(&group, "/polaris-container/health").await;
    let (second, _) = proxy_get(&group, "/polaris-container/health").await;
    let (key_status, key) = proxy_get(&group, "/polaris-container/publicKey").await;

    assert_eq!(first, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second, StatusCode::OK);
    assert_eq!(key_status, StatusCode::BAD_REQUEST);
    assert_eq!(key["error"], "deviceHash not found");
}

#[tokio::test]
async fn stop_start_and_delete_control_the_listener() {
    let sim = start().await;
    sim.create_group("app").await;
    let group = running_group(&sim, "app", "cg", polaris_group("v", "k", None, 3000)).await;
    let id = group["id"].as_str().unwrap().to_string();
    let path = group_path("app", "cg");
    assert_eq!(sim.handle.proxy_addresses(&id).len(), 1);

    let stopped = sim.post(&with_version(&format!("{path}/stop"), ACI), None).await;
    let after_stop = sim.handle.proxy_addresses(&id);
    let started = sim.post(&with_version(&format!("{path}/start"), ACI), None).await;
    sim.wait_async(&started.header("azure-asyncoperation").unwrap()).await;
    let after_start = sim.handle.proxy_addresses(&id);
    let deleted = sim.delete(&with_version(&path, ACI)).await;
    let missing = sim.delete(&with_version(&path, ACI)).await;

    assert_eq!(stopped.status, StatusCode::NO_CONTENT);
    assert!(after_stop.is_empty());
    assert_eq!(started.status, StatusCode::ACCEPTED);
    assert_eq!(after_start.len(), 1);
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["name"], "cg");
    assert!(sim.handle.proxy_addresses(&id).is_empty());
    assert_eq!(missing.status, StatusCode::NO_CONTENT);
    let connect = proxy_client()
        .get(format!("http://{}/polaris-container/health", after_start[0]))
        .send()
        .await;
    assert!(connect.is_err(), "listener must be gone after delete");
}

#[tokio::test]
async fn slow_delete_is_async_with_a_lower_case_header() {
    let latency = LatencyProfile::default().with(
        "Microsoft.ContainerInstance/containerGroups:DELETE",
        OpTiming::lro(Duration::from_secs(5)),
    );
    let sim = start_manual(latency).await;
    sim.create_group("app").await;
    put_group(&sim, "app", "cg", polaris_group("v", "k", None, 3000)).await;
    sim.advance(Duration::from_secs(1)).await;

    let deleted = sim.delete(&with_version(&group_path("app", "cg"), ACI)).await;
    let during = sim.get(&with_version(&group_path("app", "cg"), ACI)).await;
    sim.advance(Duration::from_secs(5)).await;
    let after = sim.get(&with_version(&group_path("app", "cg"), ACI)).await;

    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert!(deleted.headers.keys().any(|k| k.as_str() == "azure-asyncoperation"));
    assert_eq!(during.body["properties"]["provisioningState"], "Deleting");
    assert_eq!(after.status, StatusCode::NOT_FOUND);
}

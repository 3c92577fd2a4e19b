//! Shared helpers for the integration tests: a started simulator and an HTTPS client that
//! trusts its CA.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use polaris_sim::{LatencyProfile, ManualClock, SimConfig, SimHandle, Simulator};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

pub const SUB: &str = "00000000-0000-0000-0000-0000000000aa";
pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub const RELEASE_ROLE: &str = "08bbd89e-9f13-488c-ac41-acfcb10c90ab";
pub const ALLOW_ALL_CCE: &str =
    "eyJhbGxvd19hbGwiOiB0cnVlLCAiY29udGFpbmVycyI6IHsibGVuZ3RoIjogMCwgImVsZW1lbnRzIjogbnVsbH19";

/// Role definition id of "Key Vault Crypto Service Release User" in `SUB`.
pub fn release_role_id() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{RELEASE_ROLE}")
}

/// A subnet delegation to container groups, as our orchestrator sends it.
pub fn aci_delegation(name: &str) -> Value {
    let service = "Microsoft.ContainerInstance/containerGroups";
    json!({ "name": name, "properties": { "serviceName": service } })
}

pub struct Sim {
    pub handle: SimHandle,
    pub client: Client,
    pub clock: Option<Arc<ManualClock>>,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(String::from)
    }
}

pub fn client_for(handle: &SimHandle) -> Client {
    let ca = reqwest::Certificate::from_pem(handle.ca_certificate_pem().as_bytes()).unwrap();
    Client::builder()
        .add_root_certificate(ca)
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A simulator on the system clock with instant operations.
pub async fn start() -> Sim {
    start_with(SimConfig { tenant_id: TENANT.into(), ..SimConfig::default() }).await
}

/// A simulator on a manual clock (starting 2026-01-01) with the given latencies.
pub async fn start_manual(latency: LatencyProfile) -> Sim {
    let clock = Arc::new(ManualClock::new(time::macros::datetime!(2026-01-01 00:00 UTC)));
    let config = SimConfig {
        latency,
        clock: clock.clone(),
        tenant_id: TENANT.into(),
        ..SimConfig::default()
    };
    let mut sim = start_with(config).await;
    sim.clock = Some(clock);
    sim
}

pub async fn start_with(config: SimConfig) -> Sim {
    let handle = Simulator::start(config).await.unwrap();
    let client = client_for(&handle);
    Sim { handle, client, clock: None }
}

pub fn rg_path(rg: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}")
}

pub fn with_version(path: &str, api_version: &str) -> String {
    if path.contains("api-version=") {
        return path.to_string();
    }
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}api-version={api_version}")
}

impl Sim {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.handle.arm_endpoint(), path)
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut request = self.client.request(method, self.url(path)).bearer_auth("test-token");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp { status, headers, body }
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Resp {
        self.send(Method::POST, path, body).await
    }

    pub async fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("manual clock").advance(by);
        self.handle.settle().await;
    }

    pub async fn create_group(&self, rg: &str) {
        let resp = self
            .put(&with_version(&rg_path(rg), "2024-03-01"), json!({ "location": "westeurope" }))
            .await;
        assert!(resp.status.is_success(), "{:?}", resp.body);
    }

    /// Polls an `Azure-AsyncOperation` URL until the status is terminal.
    pub async fn wait_async(&self, url: &str) -> Value {
        for _ in 0..100 {
            let resp = self.get(url).await;
            assert_eq!(resp.status, StatusCode::OK);
            if resp.body["status"] != "InProgress" {
                return resp.body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("operation {url} never finished");
    }

    /// Creates a VNet with one subnet, delegated to ACI when `aci` is set; returns the subnet id.
    pub async fn create_subnet(&self, rg: &str, vnet: &str, subnet: &str, aci: bool) -> String {
        let delegations = if aci { json!([aci_delegation("aci")]) } else { json!([]) };
        let path = format!("{}/providers/Microsoft.Network/virtualNetworks/{vnet}", rg_path(rg));
        let body = json!({
            "location": "westeurope",
            "properties": {
                "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
                "subnets": [{ "name": subnet, "properties": { "addressPrefix": "10.0.1.0/24",
                    "delegations": delegations } }],
            },
        });
        let resp = self.put(&with_version(&path, "2024-01-01"), body).await;
        assert_eq!(resp.status, StatusCode::CREATED, "{:?}", resp.body);
        let status = resp.header("azure-asyncoperation").unwrap();
        assert_eq!(self.wait_async(&status).await["status"], "Succeeded");
        format!("{path}/subnets/{subnet}")
    }

    /// Creates a user-assigned identity; returns (id, principalId).
    pub async fn create_identity(&self, rg: &str, name: &str) -> (String, String) {
        let path = format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
            rg_path(rg)
        );
        let resp =
            self.put(&with_version(&path, "2023-01-31"), json!({ "location": "westeurope" })).await;
        assert_eq!(resp.status, StatusCode::CREATED, "{:?}", resp.body);
        (path, resp.body["properties"]["principalId"].as_str().unwrap().to_string())
    }

    /// Creates a vault and waits until it is provisioned; returns its id.
    pub async fn create_vault(&self, rg: &str, name: &str, sku: &str, extra: Value) -> String {
        let path = format!("{}/providers/Microsoft.KeyVault/vaults/{name}", rg_path(rg));
        let mut properties = json!({ "tenantId": TENANT, "sku": { "family": "A", "name": sku },
            "enableRbacAuthorization": true });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            properties[k] = v;
        }
        let resp = self
            .put(
                &with_version(&path, "2023-07-01"),
                json!({ "location": "westeurope", "properties": properties }),
            )
            .await;
        assert!(resp.status.is_success(), "{:?}", resp.body);
        for _ in 0..100 {
            let read = self.get(&with_version(&path, "2023-07-01")).await;
            if read.body["properties"]["provisioningState"] == "Succeeded" {
                return path;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("vault {name} never provisioned");
    }
}

/// The release policy our orchestrator writes, base64 of its JSON.
pub fn release_policy_b64() -> String {
    use base64::Engine;
    let policy = json!({
        "version": "1.0.0",
        "anyOf": [{ "authority": "https://sharedweu.weu.attest.azure.net",
                    "allOf": [{ "claim": "x-ms-attestation-type", "equals": "sevsnpvm" }] }],
    });
    base64::engine::general_purpose::STANDARD.encode(policy.to_string())
}

/// ARM body of an exportable RSA-HSM key with a release policy.
pub fn exportable_key_body() -> Value {
    json!({ "properties": {
        "kty": "RSA-HSM",
        "keySize": 4096,
        "keyOps": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
        "attributes": { "exportable": true },
        "release_policy": { "contentType": "application/json; \
            charset=utf-8", "data": release_policy_b64() },
    }})
}

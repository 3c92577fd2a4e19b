//! The Key Vault secret store against an in-memory vault behind `azure_core`'s transport:
//! the secrets API 7.4 contract (PUT/GET/DELETE `/secrets/{name}`, paged listing), bearer
//! auth on every request, values never in errors. No network: the transport is the vault.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::http::headers::Headers;
use azure_core::http::{
    AsyncRawResponse, Body, ClientOptions, HttpClient, Method, Request, RetryOptions, StatusCode,
    Transport, Url,
};
use polaris::settings::KeyVaultSecretStore;
use polaris_azure::LocalTokenCredential;
use polaris_core::ports::{SecretError, SecretStore};
use serde_json::{Value, json};

const VAULT: &str = "https://polaris-kv.vault.azure.net";

/// name -> (value, tags); lists one secret per page to exercise `nextLink`.
#[derive(Debug, Default)]
struct Vault {
    secrets: Mutex<BTreeMap<String, (String, Value)>>,
    /// Soft-deleted secrets: their names stay taken until recovered or purged.
    deleted: Mutex<BTreeMap<String, (String, Value)>>,
    requests: Mutex<Vec<String>>,
    /// Answer every request 403, echoing the request body in the message.
    refuse: bool,
}

fn answer(status: StatusCode, body: Value) -> AsyncRawResponse {
    AsyncRawResponse::from_bytes(status, Headers::new(), body.to_string().into_bytes())
}

#[async_trait]
impl HttpClient for Vault {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = request.url().clone();
        let auth = request.headers().get_optional_str(&"authorization".into()).unwrap_or("");
        assert!(auth.starts_with("Bearer "), "every request carries a bearer token");
        let version = url.query_pairs().find(|(k, _)| k == "api-version").map(|(_, v)| v);
        assert_eq!(version.as_deref(), Some("7.4"));
        self.requests.lock().unwrap().push(format!("{} {}", request.method(), url.path()));

        if self.refuse {
            let echoed = match request.body() {
                Body::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                _ => String::new(),
            };
            let body = json!({"error": {"code": "Forbidden", "message": echoed}});
            return Ok(answer(StatusCode::Forbidden, body));
        }
        let segments: Vec<String> = url.path_segments().unwrap().map(str::to_owned).collect();
        let mut secrets = self.secrets.lock().unwrap();
        let reply = match (request.method(), segments.as_slice()) {
            (Method::Put, [s, name])
                if s == "secrets" && self.deleted.lock().unwrap().contains_key(name) =>
            {
                let inner = json!({"code": "ObjectIsDeletedButRecoverable"});
                answer(
                    StatusCode::Conflict,
                    json!({"error": {"code": "Conflict", "innererror": inner}}),
                )
            }
            (Method::Post, [d, name, r]) if d == "deletedsecrets" && r == "recover" => {
                match self.deleted.lock().unwrap().remove(name) {
                    Some(secret) => {
                        secrets.insert(name.clone(), secret);
                        answer(StatusCode::Ok, json!({}))
                    }
                    None => {
                        answer(StatusCode::NotFound, json!({"error": {"code": "SecretNotFound"}}))
                    }
                }
            }
            (Method::Put, [s, name]) if s == "secrets" => {
                let Body::Bytes(bytes) = request.body() else { panic!("bytes body") };
                let body: Value = serde_json::from_slice(bytes).unwrap();
                let value = body["value"].as_str().unwrap().to_owned();
                secrets.insert(name.clone(), (value, body["tags"].clone()));
                answer(StatusCode::Ok, json!({"id": format!("{VAULT}/secrets/{name}/v1")}))
            }
            (Method::Get, [s, name]) if s == "secrets" => match secrets.get(name) {
                Some((value, _)) => answer(StatusCode::Ok, json!({"value": value})),
                None => answer(StatusCode::NotFound, json!({"error": {"code": "SecretNotFound"}})),
            },
            (Method::Delete, [s, name]) if s == "secrets" => match secrets.remove(name) {
                Some(secret) => {
                    self.deleted.lock().unwrap().insert(name.clone(), secret);
                    answer(StatusCode::Ok, json!({}))
                }
                None => answer(StatusCode::NotFound, json!({"error": {"code": "SecretNotFound"}})),
            },
            (Method::Get, [s]) if s == "secrets" => {
                let skip: usize = url
                    .query_pairs()
                    .find(|(k, _)| k == "$skiptoken")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let page: Vec<Value> = secrets
                    .iter()
                    .skip(skip)
                    .take(1)
                    .map(|(name, (_, tags))| {
                        json!({"id": format!("{VAULT}/secrets/{name}"), "tags": tags})
                    })
                    .collect();
                let next = (skip + 1 < secrets.len())
                    .then(|| format!("{VAULT}/secrets?api-version=7.4&$skiptoken={}", skip + 1));
                answer(StatusCode::Ok, json!({"value": page, "nextLink": next}))
            }
            _ => answer(StatusCode::BadRequest, json!({"error": {"code": "BadRequest"}})),
        };
        Ok(reply)
    }
}

fn store(vault: &Arc<Vault>) -> KeyVaultSecretStore {
    let options = ClientOptions {
        transport: Some(Transport::new(vault.clone())),
        retry: RetryOptions::none(),
        ..Default::default()
    };
    KeyVaultSecretStore::new(
        Url::parse(VAULT).unwrap(),
        Arc::new(LocalTokenCredential::new()),
        options,
    )
}

#[tokio::test]
async fn secrets_round_trip_and_delete_all_removes_only_that_deployment() {
    let vault = Arc::new(Vault::default());
    let store = store(&vault);

    store.put("demo-00000001", "workload_env_vars.API_KEY", "s3cr3t").await.unwrap();
    store.put("demo-00000001", "registry_password", "hunter2").await.unwrap();
    store.put("other-00000002", "registry_password", "keep-me").await.unwrap();

    assert_eq!(store.get("demo-00000001", "workload_env_vars.API_KEY").await.unwrap(), "s3cr3t");
    assert_eq!(store.get("demo-00000001", "registry_password").await.unwrap(), "hunter2");

    store.delete_all("demo-00000001").await.unwrap();
    let gone = store.get("demo-00000001", "registry_password").await;
    assert!(matches!(gone, Err(SecretError::Missing { .. })), "{gone:?}");
    assert_eq!(store.get("other-00000002", "registry_password").await.unwrap(), "keep-me");
    assert_eq!(vault.secrets.lock().unwrap().len(), 1);

    let listed = vault.requests.lock().unwrap().iter().filter(|r| r.ends_with("/secrets")).count();
    assert_eq!(listed, 3, "followed nextLink through every page");
}

#[tokio::test]
async fn errors_name_the_status_and_code_never_the_value() {
    let vault = Arc::new(Vault::default());
    let missing = store(&vault).get("demo-00000001", "nope").await;
    assert!(matches!(missing, Err(SecretError::Missing { .. })));

    let refusing = Arc::new(Vault { refuse: true, ..Vault::default() });
    let error = store(&refusing).put("demo-00000001", "k", "s3cr3t").await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("403") && text.contains("Forbidden"), "{text}");
    assert!(!text.contains("s3cr3t") && !format!("{error:?}").contains("s3cr3t"), "{text}");
}

#[tokio::test]
async fn a_soft_deleted_secret_is_recovered_and_overwritten() {
    let vault = Arc::new(Vault::default());
    let store = store(&vault);
    store.put("demo-00000001", "registry_password", "first").await.unwrap();
    store.delete_all("demo-00000001").await.unwrap();

    // A redrive resubmits the same secret under the same name.
    store.put("demo-00000001", "registry_password", "second").await.unwrap();
    assert_eq!(store.get("demo-00000001", "registry_password").await.unwrap(), "second");
    assert!(vault.deleted.lock().unwrap().is_empty());
}

//! Test support: a scripted HTTPS fake of ARM and Key Vault on 127.0.0.1, an in-memory
//! secret store, and builders for clients and executors pointed at the fake.
//!
//! The fake answers each `(method, path)` from a queue of replies given by the test (the
//! last reply repeats) and records every request, so tests assert exact sequences: "three
//! GETs", "no PUT", "the PUT body had createMode recover". Unscripted paths answer 404
//! `ResourceNotFound`, as ARM does for a missing resource.

#![allow(dead_code)]

mod tls;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use polaris_azure::{
    ArmClient, ArmExecutor, ClientSettings, Clock, ExecutorConfig, KeyVaultClient,
    LocalTokenCredential, RetryPolicy, TransportConfig, VaultUrlResolver, VirtualClock,
};
use polaris_core::action::ExecContext;
use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::ports::{SecretError, SecretStore};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use url::Url;
use warp::Filter;
use warp::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

pub const OWNER: &str = "dep-polaris-1";
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Real time to wait before answering (for client timeouts).
    pub delay: std::time::Duration,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, headers: vec![], body: Some(body.to_string()), delay: Default::default() }
    }

    pub fn empty(status: u16) -> Self {
        Self { status, headers: vec![], body: None, delay: Default::default() }
    }

    pub fn raw(status: u16, body: &str) -> Self {
        Self { status, headers: vec![], body: Some(body.to_owned()), delay: Default::default() }
    }

    /// An ARM error body.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, json!({"error": {"code": code, "message": message}}))
    }

    pub fn delayed(mut self, delay: std::time::Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Option<Value>,
}

#[derive(Default)]
struct State {
    routes: HashMap<(String, String), VecDeque<Reply>>,
    log: Vec<Recorded>,
    counter: u64,
}

/// The fake Azure endpoint.
#[derive(Clone)]
pub struct FakeAzure {
    base: Url,
    ca_pem: String,
    state: Arc<Mutex<State>>,
}

impl FakeAzure {
    pub async fn start() -> Self {
        let (server_config, ca_pem) = tls::self_signed_localhost();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));

        let service = warp::service(routes(Arc::clone(&state)));
        let acceptor = TlsAcceptor::from(server_config);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let service = TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });

        let base = Url::parse(&format!("https://127.0.0.1:{}/", addr.port())).expect("url");
        Self { base, ca_pem, state }
    }

    pub fn base(&self) -> Url {
        self.base.clone()
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Absolute URL of `path` on the fake.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// Scripts `(method, path)`: replies are served in order, the last one repeatedly.
    pub fn on(&self, method: &str, path: &str, replies: Vec<Reply>) {
        let mut state = self.lock();
        state.routes.insert((method.to_owned(), path.to_owned()), replies.into());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.lock().log.iter().filter(|r| r.method == method && r.path == path).count()
    }

    /// Requests with `method`, whatever the path.
    pub fn count_method(&self, method: &str) -> usize {
        self.lock().log.iter().filter(|r| r.method == method).count()
    }

    pub fn bodies(&self, method: &str, path: &str) -> Vec<Value> {
        let state = self.lock();
        let matching = state.log.iter().filter(|r| r.method == method && r.path == path);
        matching.filter_map(|r| r.body.clone()).collect()
    }

    /// `(method, path)` of every request, in order.
    pub fn sequence(&self) -> Vec<(String, String)> {
        self.lock().log.iter().map(|r| (r.method.clone(), r.path.clone())).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn routes(
    state: Arc<Mutex<State>>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .and_then(
            move |method: Method, path: warp::path::FullPath, query, headers, body: Bytes| {
                let (reply, number) =
                    answer(&state, method, path.as_str(), query, &headers, &body);
                async move {
                    tokio::time::sleep(reply.delay).await;
                    Ok::<_, warp::Rejection>(to_response(reply, number))
                }
            },
        )
        .recover(|_| async { Ok::<_, std::convert::Infallible>(status_only(400)) })
        .unify()
}

fn answer(
    state: &Mutex<State>,
    method: Method,
    path: &str,
    query: String,
    headers: &HeaderMap,
    body: &[u8],
) -> (Reply, u64) {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    state.counter += 1;
    let request_number = state.counter;

    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    state.log.push(Recorded {
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        query,
        headers,
        body: serde_json::from_slice(body).ok(),
    });

    let key = (method.as_str().to_owned(), path.to_owned());
    let reply = match state.routes.get_mut(&key) {
        Some(queue) if queue.len() > 1 => queue.pop_front(),
        Some(queue) => queue.front().cloned(),
        None => None,
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::error(404, "ResourceNotFound", &format!("{} was not found", key.1))
    });
    (reply, request_number)
}

fn to_response(reply: Reply, request_number: u64) -> warp::reply::Response {
    let mut response = warp::Reply::into_response(reply.body.unwrap_or_default());
    *response.status_mut() = StatusCode::from_u16(reply.status).expect("status");
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    let request_id = format!("req-{request_number}");
    headers.insert("x-ms-request-id", HeaderValue::from_str(&request_id).expect("hv"));
    for (name, value) in reply.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        headers.insert(name, HeaderValue::from_str(&value).expect("header value"));
    }
    response
}

fn status_only(status: u16) -> warp::reply::Response {
    let mut response = warp::Reply::into_response(String::new());
    *response.status_mut() = StatusCode::from_u16(status).expect("status");
    response
}

/// Secrets in memory, keyed by (deployment, key).
#[derive(Default)]
pub struct MemorySecrets {
    values: Mutex<BTreeMap<(String, String), String>>,
}

impl MemorySecrets {
    pub fn with(deployment: &str, key: &str, value: &str) -> Arc<Self> {
        let store = Self::default();
        store.lock().insert((deployment.to_owned(), key.to_owned()), value.to_owned());
        Arc::new(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), String>> {
        self.values.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SecretStore for MemorySecrets {
    async fn put(&self, deployment: &str, key: &str, value: &str) -> Result<(), SecretError> {
        self.lock().insert((deployment.to_owned(), key.to_owned()), value.to_owned());
        Ok(())
    }

    async fn get(&self, deployment: &str, key: &str) -> Result<String, SecretError> {
        let found = self.lock().get(&(deployment.to_owned(), key.to_owned())).cloned();
        found.ok_or_else(|| SecretError::Missing {
            deployment: deployment.to_owned(),
            key: key.to_owned(),
        })
    }

    async fn delete_all(&self, deployment: &str) -> Result<(), SecretError> {
        self.lock().retain(|(d, _), _| d != deployment);
        Ok(())
    }
}

/// Client settings trusting only the fake's certificate, on `clock`.
pub fn settings(fake: &FakeAzure, clock: Arc<dyn Clock>, retry: RetryPolicy) -> ClientSettings {
    settings_with(fake, clock, retry, TransportConfig::default())
}

/// Like [`settings`], with timeouts etc. from `transport`.
pub fn settings_with(
    fake: &FakeAzure,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    transport: TransportConfig,
) -> ClientSettings {
    let transport =
        TransportConfig { root_ca_pem: Some(fake.ca_pem().as_bytes().to_vec()), ..transport };
    ClientSettings::new(&transport).expect("settings").with_clock(clock).with_retry(retry)
}

pub fn arm_client(fake: &FakeAzure, clock: Arc<dyn Clock>, retry: RetryPolicy) -> ArmClient {
    let settings = settings(fake, clock, retry);
    ArmClient::new(fake.base(), Arc::new(LocalTokenCredential::new()), &settings)
}

/// Key Vault data plane at `{fake}/kv/{vault}/`.
pub fn keyvault_client(fake: &FakeAzure, settings: &ClientSettings) -> KeyVaultClient {
    let base = fake.base();
    let resolver = VaultUrlResolver::new(move |name| base.join(&format!("kv/{name}/")));
    KeyVaultClient::new(Arc::new(LocalTokenCredential::new()), resolver, settings)
}

/// An executor on the fake with virtual time and default retries.
pub fn executor(fake: &FakeAzure) -> (ArmExecutor, VirtualClock) {
    executor_with(fake, Arc::new(MemorySecrets::default()), RetryPolicy::default())
}

pub fn executor_with(
    fake: &FakeAzure,
    secrets: Arc<dyn SecretStore>,
    retry: RetryPolicy,
) -> (ArmExecutor, VirtualClock) {
    let clock = VirtualClock::new();
    let settings = settings(fake, Arc::new(clock.clone()), retry);
    let arm = ArmClient::new(fake.base(), Arc::new(LocalTokenCredential::new()), &settings);
    let keyvault = keyvault_client(fake, &settings);
    let exec = ArmExecutor::new(arm, keyvault, secrets, ExecutorConfig::default());
    (exec, clock)
}

pub fn owner() -> DeploymentId {
    DeploymentId::new(OWNER).expect("deployment id")
}

pub fn ctx(step: &str) -> ExecContext {
    ExecContext {
        deployment_id: owner(),
        step: StepName::new(step),
        attempt: 1,
        now: time::OffsetDateTime::now_utc(),
    }
}

/// `/subscriptions/{SUB}/resourceGroups/rg-test/providers/{rest}`.
pub fn rid(rest: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg-test/providers/{rest}")
}

/// Tags that make a resource ours.
pub fn our_tags() -> Value {
    json!({ "polaris-deployment": OWNER, "managed-by": "polaris-orchestrator" })
}

/// An ARM resource for an action.
pub fn resource(
    id: &str,
    body: Value,
    ownership: polaris_core::plan::model::Ownership,
    outputs: &[(&str, &str)],
) -> polaris_core::plan::model::ArmResource {
    polaris_core::plan::model::ArmResource {
        id: id.to_owned(),
        api_version: "2024-01-01".to_owned(),
        body,
        ownership,
        outputs: outputs
            .iter()
            .map(|(name, pointer)| polaris_core::plan::model::OutputSelector {
                name: (*name).to_owned(),
                pointer: (*pointer).to_owned(),
            })
            .collect(),
    }
}

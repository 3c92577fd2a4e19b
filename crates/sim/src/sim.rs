//! Starting a simulator and the handle tests use to drive and inspect it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::arm::ids::{self, key};
use crate::config::SimConfig;
use crate::containers::listener::{self, ListenerHandle};
use crate::context::Ctx;
use crate::error::SimError;
use crate::faults::FaultHandle;
use crate::reply::Reply;
use crate::request::SimRequest;
use crate::state::inventory::{LoggedRequest, SimResource, SoftDeletedVault};
use crate::state::operations::OpState;
use crate::state::{DeletedVault, Effect, Resource, World};
use crate::{arm, routing, server, tls};

/// State shared by the HTTPS server, the container listeners and the handle.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub base_url: String,
    pub faults: FaultHandle,
    world: Mutex<World>,
    log: Mutex<Vec<LoggedRequest>>,
    pub listeners: Mutex<HashMap<String, ListenerHandle>>,
}

impl Shared {
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies due operations, then starts/stops the listeners they asked for.
    pub async fn settle(self: &Arc<Self>, now: OffsetDateTime) {
        self.world().settle(now);
        self.run_effects().await;
    }

    pub async fn run_effects(self: &Arc<Self>) {
        let effects = std::mem::take(&mut self.world().effects);
        for effect in effects {
            match effect {
                Effect::StartListener(group) => listener::start(self, &group).await,
                Effect::StopListener(group) => listener::stop(self, &group),
            }
        }
    }

    pub fn log_request(&self, req: &SimRequest, reply: &Reply, now: OffsetDateTime) {
        let entry = LoggedRequest {
            method: req.method.to_string(),
            path: req.path.clone(),
            query: req.raw_query.clone(),
            body: req.body_for_log(),
            status: if reply.reset { 0 } else { reply.status.as_u16() },
            connection_reset: reply.reset,
            time: now,
        };
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
    }
}

/// Entry point: `Simulator::start(config).await`.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Generates certificates, binds a free loopback port and starts serving.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        if !config.bind_ip.is_loopback() {
            return Err(SimError::NotLoopback(config.bind_ip));
        }
        let material = tls::generate()?;
        let requested = SocketAddr::new(config.bind_ip, config.port);
        let tcp = TcpListener::bind(requested)
            .await
            .map_err(|source| SimError::Bind { addr: requested, source })?;
        let addr = tcp.local_addr().map_err(|source| SimError::Bind { addr: requested, source })?;
        let base_url = match addr {
            SocketAddr::V4(a) => format!("https://{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("https://[{}]:{}", a.ip(), a.port()),
        };

        let shared = Arc::new(Shared {
            faults: FaultHandle::new(config.faults.clone())?,
            world: Mutex::new(World::new(config.seed)),
            log: Mutex::new(Vec::new()),
            listeners: Mutex::new(HashMap::new()),
            base_url,
            config,
        });
        let acceptor = TlsAcceptor::from(material.server_config);
        let server =
            server::spawn_accept_loop(tcp, Some(acceptor), routing::routes(shared.clone()));
        let ticker = tokio::spawn(tick(Arc::downgrade(&shared)));
        tracing::info!(endpoint = %shared.base_url, "simulated Azure started");

        Ok(SimHandle { shared, tasks: vec![server, ticker], ca_pem: material.ca_pem, addr })
    }
}

/// Completes due operations even when nobody polls (so listeners come up on time).
async fn tick(shared: Weak<Shared>) {
    let mut interval = tokio::time::interval(Duration::from_millis(50));
    loop {
        interval.tick().await;
        let Some(shared) = shared.upgrade() else { return };
        let now = shared.config.clock.now();
        shared.settle(now).await;
    }
}

/// A running simulator. Dropping it stops the server and every container listener.
pub struct SimHandle {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    ca_pem: String,
    addr: SocketAddr,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle").field("endpoint", &self.shared.base_url).finish_non_exhaustive()
    }
}

/// A vault to place directly into the soft-deleted state.
#[derive(Debug, Clone)]
pub struct DeletedVaultSeed {
    /// Subscription the vault lived in.
    pub subscription: String,
    /// Resource group the vault lived in.
    pub resource_group: String,
    /// Vault name.
    pub name: String,
    /// Location, e.g. `westeurope`.
    pub location: String,
    /// Whether purge protection was on.
    pub purge_protection: bool,
    /// Tags the vault had.
    pub tags: Value,
    /// Premium SKU (needed to recover exportable keys into a usable vault).
    pub premium: bool,
}

impl SimHandle {
    /// `https://127.0.0.1:<port>`: the ARM management endpoint.
    pub fn arm_endpoint(&self) -> String {
        self.shared.base_url.clone()
    }

    /// Socket address of the HTTPS listener.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Loopback URL of a vault's data plane, to use instead of `vaultUri`
    /// (`https://{name}.vault.azure.net/` maps to `{arm_endpoint}/kv/{name}`).
    pub fn keyvault_endpoint_for(&self, vault_name: &str) -> String {
        format!("{}/kv/{}", self.shared.base_url, vault_name)
    }

    /// PEM of the CA that signed the server certificate; clients add it as a trusted root.
    pub fn ca_certificate_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// The live fault rules; changes apply to the next request.
    pub fn faults(&self) -> FaultHandle {
        self.shared.faults.clone()
    }

    /// Applies operations that are due now and starts or stops listeners accordingly.
    /// Useful after advancing a manual clock.
    pub async fn settle(&self) {
        let now = self.shared.config.clock.now();
        self.shared.settle(now).await;
    }

    /// Every live resource (and key), as of now.
    pub fn inventory(&self) -> Vec<SimResource> {
        let now = self.shared.config.clock.now();
        let mut world = self.shared.world();
        world.settle(now);
        world.inventory()
    }

    /// Vaults in the soft-deleted state.
    pub fn soft_deleted_vaults(&self) -> Vec<SoftDeletedVault> {
        let now = self.shared.config.clock.now();
        let mut world = self.shared.world();
        world.settle(now);
        world.soft_deleted_vaults()
    }

    /// Every request answered so far, oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Forgets the request log.
    pub fn clear_request_log(&self) {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Addresses the simulated proxy of a container group listens on (empty when none).
    pub fn proxy_addresses(&self, group_id: &str) -> Vec<SocketAddr> {
        let listeners = self.shared.listeners.lock().unwrap_or_else(|e| e.into_inner());
        listeners.get(&key(group_id)).map(ListenerHandle::addresses).unwrap_or_default()
    }

    /// Performs an ARM or data-plane request directly (no auth, faults or log) and
    /// completes the operations it starts at once. For setting up state in tests.
    pub async fn seed_request(
        &self,
        method: &str,
        path: &str,
        body: Value,
    ) -> Result<Value, SimError> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let query = if query.to_ascii_lowercase().contains("api-version=") {
            query.to_string()
        } else {
            let sep = if query.is_empty() { "" } else { "&" };
            format!("{query}{sep}api-version=seed")
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        let bytes = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer seed".parse().expect("static header"));
        let req = SimRequest::new(method.clone(), path, &query, headers, bytes);
        let now = self.shared.config.clock.now();

        let reply = {
            let mut world = self.shared.world();
            let before: Vec<String> = world.operations.keys().cloned().collect();
            let mut ctx = Ctx {
                config: &self.shared.config,
                base_url: &self.shared.base_url,
                now,
                req: &req,
                lro_fault: None,
            };
            let is_kv = req.segments.first().is_some_and(|s| s.eq_ignore_ascii_case("kv"))
                && req.segments.len() >= 2;
            let result = if is_kv {
                crate::keyvault::data_plane::dispatch(
                    &mut world,
                    &ctx,
                    &req.segments[1],
                    &req.segments[2..],
                )
            } else {
                arm::dispatch(&mut world, &mut ctx)
            };
            for op in world.operations.values_mut() {
                if !before.contains(&op.id) && op.state == OpState::Running {
                    op.ready_at = now;
                }
            }
            world.settle(now);
            result.unwrap_or_else(|e| e.into_reply())
        };
        self.shared.run_effects().await;

        if reply.status.is_client_error() || reply.status.is_server_error() {
            return Err(SimError::Seed {
                method: method.to_string(),
                path: path.to_string(),
                status: reply.status.as_u16(),
                body: reply.body.map(|b| b.to_string()).unwrap_or_default(),
            });
        }
        Ok(reply.body.unwrap_or(Value::Null))
    }

    /// Inserts a resource as-is (any type, no validation), e.g. a resource created by
    /// someone else, without our tags. `properties.provisioningState` defaults to Succeeded.
    pub fn seed_resource(&self, id: &str, body: Value) {
        let segments: Vec<String> =
            id.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
        let (rtype, parent, name) = match ids::parse(&segments) {
            ids::ArmPath::Resource(r) => {
                let rtype = r.known_type().map_or_else(|| r.type_path(), String::from);
                let parent = (r.names.len() > 1).then(|| key(&r.id_at(r.names.len() - 1)));
                (rtype, parent, r.name().to_string())
            }
            ids::ArmPath::ResourceGroup { name, .. } => {
                (ids::types::RESOURCE_GROUP.to_string(), None, name)
            }
            _ => ("Unknown".to_string(), None, segments.last().cloned().unwrap_or_default()),
        };

        let mut body = if body.is_object() { body } else { json!({}) };
        body["id"] = json!(id);
        body["name"] = json!(name);
        body["type"] = json!(rtype);
        if !body["properties"].is_object() {
            body["properties"] = json!({});
        }
        if body["properties"].get("provisioningState").is_none() {
            body["properties"]["provisioningState"] = json!("Succeeded");
        }
        let mut resource = Resource::new(id, &rtype, body);
        resource.parent = parent;
        self.shared.world().insert(resource);
    }

    /// Places a vault directly in the soft-deleted state (e.g. left over by an earlier run).
    pub fn seed_deleted_vault(&self, seed: DeletedVaultSeed) {
        let now = self.shared.config.clock.now();
        let vault_id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}",
            seed.subscription, seed.resource_group, seed.name
        );
        let sku = if seed.premium { "premium" } else { "standard" };
        let body = json!({
            "id": vault_id,
            "name": seed.name,
            "type": ids::types::VAULT,
            "location": seed.location,
            "tags": seed.tags,
            "properties": {
                "tenantId": self.shared.config.tenant_id,
                "sku": { "family": "A", "name": sku },
                "vaultUri": format!("https://{}.vault.azure.net/", seed.name.to_ascii_lowercase()),
                "enableSoftDelete": true,
                "softDeleteRetentionInDays": 90,
                "enablePurgeProtection": seed.purge_protection,
                "accessPolicies": [],
                "provisioningState": "Succeeded",
            },
        });
        let deleted = DeletedVault {
            name: seed.name.clone(),
            subscription: seed.subscription,
            location: seed.location,
            vault_id,
            tags: seed.tags,
            deletion_date: now,
            scheduled_purge_date: now + time::Duration::days(90),
            purge_protection: seed.purge_protection,
            body,
            purging: false,
        };
        let mut world = self.shared.world();
        world.deleted_vaults.insert(seed.name.to_ascii_lowercase(), deleted);
        world.keys.entry(seed.name.to_ascii_lowercase()).or_default();
    }

    /// Stops the server and every container listener (the same as dropping the handle).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.shared.listeners.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Runs a simulator until `shutdown` resolves: writes the CA certificate to `ca_path` and
/// prints the endpoint and the CA path (for the `polaris sim` CLI).
pub async fn run_until(
    config: SimConfig,
    ca_path: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SimError> {
    let handle = Simulator::start(config).await?;
    std::fs::write(ca_path, handle.ca_certificate_pem())
        .map_err(|source| SimError::Io { path: ca_path.to_path_buf(), source })?;

    println!("polaris-sim ARM endpoint: {}", handle.arm_endpoint());
    println!("polaris-sim Key Vault data plane: {}/kv/<vault-name>", handle.arm_endpoint());
    println!("polaris-sim CA certificate: {}", ca_path.display());
    shutdown.await;

    handle.shutdown();
    Ok(())
}

/// Runs a simulator until Ctrl-C; see [`run_until`].
pub async fn run_forever(config: SimConfig, ca_path: &Path) -> Result<(), SimError> {
    run_until(config, ca_path, async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot wait for Ctrl-C; stopping");
        }
    })
    .await
}

//! `polaris up`: the embedded runtime serving the Deployments API and the Event Grid
//! webhook over HTTP, so the CLI's `--api` and any HTTP client drive it like the Functions
//! app in Azure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use warp::Filter;

use super::{Api, ApiAuth};
use crate::rotation::Rotation;
use crate::runtime::EmbeddedRuntime;

/// A running listener.
pub struct Served {
    /// Where it listens (the OS picks the port for `:0`).
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

impl Served {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Auth(#[from] super::AuthConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot build the Key Vault client for rotation: {0}")]
    Rotation(String),
}

/// Serves `/api/...` and `/runtime/webhooks/eventgrid` for `runtime` on `listen`.
pub async fn serve_runtime(
    runtime: &EmbeddedRuntime,
    listen: SocketAddr,
    token: Option<String>,
) -> Result<Served, ServeError> {
    let auth = ApiAuth::for_listener(listen, token)?;
    let rotation =
        Rotation::for_simulator(&runtime.sim).map_err(|e| ServeError::Rotation(e.to_string()))?;
    let api = Api::new(runtime.app.clone(), auth.clone()).with_rotation(rotation);
    serve(api, listen).await
}

/// Serves an [`Api`] (and the Event Grid webhook for its app) on `listen`.
pub async fn serve(api: Api, listen: SocketAddr) -> Result<Served, ServeError> {
    let app = Arc::clone(&api.app);
    let auth = api.auth.clone();
    let routes = api.routes().or(crate::events::webhook(app, auth)).unify();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Bind { addr: listen, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: listen, source })?;
    let task = tokio::spawn(warp::serve(routes).incoming(listener).run());
    tracing::info!(%addr, "Deployments API listening");
    Ok(Served { addr, task })
}

/// `polaris up`: starts the embedded runtime (real time, simulated Azure, state under
/// `state_dir`) and serves it until Ctrl-C.
pub async fn up(
    listen: SocketAddr,
    state_dir: &std::path::Path,
    token: Option<String>,
) -> Result<std::process::ExitCode, String> {
    use crate::runtime::{RuntimeOptions, StateBackend};
    let opts = RuntimeOptions {
        state: StateBackend::Disk(state_dir.to_path_buf()),
        ..RuntimeOptions::default()
    };
    let runtime = EmbeddedRuntime::start(opts).await.map_err(|e| e.to_string())?;
    let _workers = runtime.spawn_workers();
    // Re-kicks a deployment whose continuation was lost; harmless when nothing stalled.
    let _sweeper =
        runtime.spawn_sweeper(crate::sweeper::SweeperConfig::default(), Duration::from_secs(60));
    let served = serve_runtime(&runtime, listen, token).await.map_err(|e| e.to_string())?;
    eprintln!("simulated Azure at {} (HTTPS, loopback)", runtime.sim.arm_endpoint());
    eprintln!(
        "Deployments API at {}/api (Event Grid webhook at {}{})",
        served.base_url(),
        served.base_url(),
        crate::events::WEBHOOK_PATH
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    served.task.abort();
    Ok(std::process::ExitCode::SUCCESS)
}

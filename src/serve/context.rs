//! What the routes share: the app, built lazily on the first invocation that needs it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::Response;

use crate::api::ApiAuth;
use crate::app::App;
use crate::rotation::Rotation;
use crate::sweeper::SweeperConfig;

/// One-time preparation that needs the network (creating the state container), run before
/// the first request that uses the app rather than before the port answers (B20).
pub type Warmup =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync>;

/// The deployments API's filter, mounted under `/api/`.
pub type ApiFilter = BoxedFilter<(Response<String>,)>;

/// Builds the app on first use; the error text names the setting to fix.
pub type AppFactory =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Arc<App>, String>> + Send>> + Send + Sync>;

/// Shared state of the handler's routes.
pub struct ServeContext {
    app: OnceCell<Arc<App>>,
    factory: Option<AppFactory>,
    /// Upper bound on one SagaWorker invocation. Past it the host would time out and
    /// redeliver while we still work (B20), so we answer 500 first and let redelivery resume.
    pub invocation_budget: Duration,
    pub sweeper: SweeperConfig,
    /// The forwarded deployments API; `None` answers 503 (no app configured).
    pub api: Option<ApiFilter>,
    /// Azure clients for key rotation; `None` answers `RotateKeys` with 503.
    pub rotation: Option<Rotation>,
    warmup: Option<Warmup>,
    warmed: OnceCell<()>,
}

impl ServeContext {
    /// A context around an app that already exists. The API is mounted with host-managed
    /// authentication: the Functions host checks function keys before forwarding.
    pub fn ready(app: Arc<App>) -> Self {
        let api = crate::api::routes(app.clone(), ApiAuth::HostManaged).boxed();
        Self {
            app: OnceCell::new_with(Some(app)),
            factory: None,
            invocation_budget: Duration::from_secs(120),
            sweeper: SweeperConfig::default(),
            api: Some(api),
            rotation: None,
            warmup: None,
            warmed: OnceCell::new(),
        }
    }

    /// Enables `RotateKeys` and the API's `rotate-key` route.
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        if let Some(app) = self.app.get() {
            let api = crate::api::Api::new(app.clone(), ApiAuth::HostManaged)
                .with_rotation(rotation.clone());
            self.api = Some(api.routes().boxed());
        }
        self.rotation = Some(rotation);
        self
    }

    /// A context whose app is built by `factory` on the first invocation, so the port is
    /// bound and answering before any client or credential exists.
    pub fn lazy(factory: AppFactory) -> Self {
        Self {
            app: OnceCell::new(),
            factory: Some(factory),
            invocation_budget: Duration::from_secs(120),
            sweeper: SweeperConfig::default(),
            api: None,
            rotation: None,
            warmup: None,
            warmed: OnceCell::new(),
        }
    }

    pub fn with_warmup(mut self, warmup: Warmup) -> Self {
        self.warmup = Some(warmup);
        self
    }

    /// Runs the warm-up once; a failure is retried by the next caller.
    pub async fn warm(&self) -> Result<(), String> {
        let Some(warmup) = &self.warmup else { return Ok(()) };
        self.warmed.get_or_try_init(warmup).await.map(|_| ())
    }

    pub fn with_invocation_budget(mut self, budget: Duration) -> Self {
        self.invocation_budget = budget;
        self
    }

    pub fn with_sweeper(mut self, sweeper: SweeperConfig) -> Self {
        self.sweeper = sweeper;
        self
    }

    /// The app, building it now if this is the first call. A failed build is not cached,
    /// so fixing a setting and restarting is not the only way out of a transient failure.
    pub async fn app(&self) -> Result<Arc<App>, String> {
        let app = self
            .app
            .get_or_try_init(|| async {
                match &self.factory {
                    Some(factory) => factory().await,
                    None => Err("no app was configured for this handler".to_owned()),
                }
            })
            .await?;
        self.warm().await?;
        Ok(app.clone())
    }
}

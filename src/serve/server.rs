//! Binding and running the handler's HTTP server.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::context::{AppFactory, ServeContext, Warmup};
use super::routes::routes;
use crate::settings::{PORT_SETTING, Settings};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "{PORT_SETTING} is missing or not a port number (`{0}`); the Functions host sets it, \
         set it yourself to run `polaris serve` by hand"
    )]
    Port(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `127.0.0.1:port` (0 picks a free port). The host only ever calls loopback.
pub async fn bind_loopback(port: u16) -> Result<TcpListener, ServeError> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|source| ServeError::Bind { port, source })
}

/// Serves the routes on an already bound listener until the process ends.
pub async fn serve_on(listener: TcpListener, ctx: Arc<ServeContext>) {
    warp::serve(routes(ctx)).incoming(listener).run().await;
}

/// `polaris serve`: bind first, then read settings, build clients on first use.
pub async fn run_serve() -> ExitCode {
    let raw = std::env::var(PORT_SETTING).unwrap_or_default();
    let port = match raw.trim().parse::<u16>() {
        Ok(port) => port,
        Err(_) => {
            eprintln!("error: {}", ServeError::Port(raw));
            return ExitCode::FAILURE;
        }
    };
    let listener = match bind_loopback(port).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(port, "custom handler listening on 127.0.0.1");

    // Settings and clients are built without a request (milliseconds), so the first probe
    // is answered at once; the state container is checked in the background.
    let ctx = match Settings::from_env().map_err(|e| e.to_string()).and_then(|settings| {
        let wired = crate::settings::wire(&settings).map_err(|e| e.to_string())?;
        Ok((settings, wired))
    }) {
        Ok((settings, wired)) => {
            let store = wired.store.clone();
            let warmup: Warmup = Box::new(move || {
                let store = store.clone();
                Box::pin(async move { store.ensure_container().await.map_err(|e| e.to_string()) })
            });
            ServeContext::ready(wired.app)
                .with_warmup(warmup)
                .with_rotation(wired.rotation)
                .with_sweeper(settings.sweeper.clone())
                .with_invocation_budget(settings.invocation_budget)
        }
        Err(why) => {
            // Answer every invocation with the reason until the app is fixed.
            tracing::error!(error = %why, "configuration is invalid; invocations will fail");
            let factory: AppFactory = Box::new(move || {
                let why = why.clone();
                Box::pin(async move { Err(why) })
            });
            ServeContext::lazy(factory)
        }
    };
    let ctx = Arc::new(ctx);
    let warming = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = warming.warm().await {
            tracing::error!(error = %e, "state container unavailable; retried on first use");
        }
    });
    serve_on(listener, ctx).await;
    ExitCode::SUCCESS
}

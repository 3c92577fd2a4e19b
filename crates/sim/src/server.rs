//! Serving a warp filter over TLS or plain TCP with hyper-util.
//!
//! warp 0.4 has no TLS support, so each accepted connection is wrapped in tokio-rustls
//! here and handed to hyper's HTTP/1 connection driver with the filter as its service.

use std::convert::Infallible;

use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use warp::filters::BoxedFilter;

/// The filter type every simulated server serves.
pub(crate) type Routes = BoxedFilter<(warp::reply::Response,)>;

/// Header a handler sets to make the connection close without a response.
pub(crate) const RESET_MARKER: &str = "x-polaris-sim-reset";

/// Error handed to hyper to drop a connection on purpose.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by fault injection")]
struct InjectedReset;

/// Accepts connections until the returned task is aborted; aborting also drops every
/// open connection.
pub(crate) fn spawn_accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    routes: Routes,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(error) => {
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                            continue;
                        }
                    };
                    let routes = routes.clone();
                    let tls = tls.clone();
                    connections.spawn(async move {
                        match tls {
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(stream) => serve_connection(stream, routes).await,
                                Err(error) => tracing::debug!(%peer, %error, "TLS handshake \
                                    failed"),
                            },
                            None => serve_connection(stream, routes).await,
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

async fn serve_connection<I>(io: I, routes: Routes)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let inner = TowerToHyperService::new(warp::service(routes));
    let service = service_fn(move |request| {
        let response = inner.call(request);
        async move {
            let response = response.await.map_err(|never: Infallible| match never {})?;
            if response.headers().contains_key(RESET_MARKER) {
                return Err(InjectedReset);
            }
            Ok(response)
        }
    });

    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "connection closed with an error");
    }
}

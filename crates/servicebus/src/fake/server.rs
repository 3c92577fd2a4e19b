//! The HTTPS front of the fake: a TLS accept loop on 127.0.0.1 serving one warp filter.

use std::sync::{Arc, PoisonError};
use std::time::Instant;

use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use warp::Filter;
use warp::http::{HeaderMap, Method, Response};
use warp::path::FullPath;

use super::Shared;
use super::contract::{self, Incoming};
use super::{Attempt, Reply};

/// Serves until the returned task is aborted; connections live in a `JoinSet`, so aborting
/// the loop closes them too.
pub(crate) fn spawn(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let tcp = match listener.accept().await {
                Ok((tcp, _)) => tcp,
                Err(err) => {
                    tracing::warn!(%err, "fake Service Bus: accept failed");
                    continue;
                }
            };

            let acceptor = acceptor.clone();
            let service = warp::service(routes(shared.clone()));
            connections.spawn(async move {
                let tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(err) => return tracing::debug!(%err, "fake Service Bus: TLS failed"),
                };
                let io = TokioIo::new(tls);
                let service = TowerToHyperService::new(service);
                if let Err(err) = http1::Builder::new().serve_connection(io, service).await {
                    tracing::debug!(%err, "fake Service Bus: connection ended with an error");
                }
            });
            while connections.try_join_next().is_some() {}
        }
    })
}

fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone {
    warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .and_then(move |method: Method, path: FullPath, headers: HeaderMap, body: Bytes| {
            let shared = shared.clone();
            async move {
                Ok::<_, warp::Rejection>(answer(&shared, &method, path.as_str(), &headers, body))
            }
        })
}

/// Checks the request, then answers: a refusal, a scripted reply, or 201 (delivered, or
/// dropped as a duplicate). Every attempt is logged.
fn answer(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response<String> {
    let incoming = Incoming { method, path, headers, body };
    let checked = contract::check(incoming, &shared.queues, OffsetDateTime::now_utc());

    let mut broker = shared.broker.lock().unwrap_or_else(PoisonError::into_inner);
    let mut attempt = Attempt {
        method: method.to_string(),
        path: path.to_owned(),
        message_id: None,
        status: 201,
        reason: None,
        duplicate: false,
    };
    let reply = match checked {
        Err(refusal) => {
            attempt.reason = Some(refusal.reason.clone());
            Reply { status: refusal.status, retry_after: None, body: refusal.reason }
        }
        Ok(message) => {
            attempt.message_id = Some(message.message_id.clone());
            match broker.replies.pop_front() {
                Some(scripted) => scripted,
                None => {
                    attempt.duplicate = !broker.accept(message, Instant::now());
                    Reply::status(201)
                }
            }
        }
    };
    attempt.status = reply.status;
    if attempt.status != 201 {
        tracing::info!(?attempt, "fake Service Bus refused a send");
    }
    broker.attempts.push(attempt);
    drop(broker);
    shared.arrived.notify_waiters();

    response(reply)
}

fn response(reply: Reply) -> Response<String> {
    let mut builder = Response::builder().status(reply.status);
    if let Some(retry_after) = &reply.retry_after {
        builder = builder.header("retry-after", retry_after);
    }
    builder.body(reply.body).unwrap_or_else(|_| internal_error())
}

fn internal_error() -> Response<String> {
    let mut response = Response::new("fake Service Bus: bad scripted reply".to_owned());
    *response.status_mut() = warp::http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

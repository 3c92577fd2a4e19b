//! The embedded runtime's Event Grid webhook. In Azure the Functions host's Event Grid
//! extension answers both handshakes and calls `TeardownOnEvent` once per event; here there
//! is no host, so this filter answers them itself, with the extension's status codes.

use std::sync::Arc;

use polaris_host::{DEFAULT_ALLOWED_ORIGINS, IncomingEvent};
use warp::Filter;
use warp::http::{HeaderMap, Method, Response, StatusCode};

use super::handle_batch;
use crate::api::ApiAuth;
use crate::app::App;

/// Where the Functions host serves its Event Grid webhook; the embedded runtime uses the
/// same path so a subscription works against either.
pub const WEBHOOK_PATH: &str = "/runtime/webhooks/eventgrid";

/// `OPTIONS`/`POST /runtime/webhooks/eventgrid`.
pub fn webhook(
    app: Arc<App>,
    auth: ApiAuth,
) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("runtime" / "webhooks" / "eventgrid")
        .and(warp::method())
        .and(warp::header::headers_cloned())
        .and(query)
        .and(warp::body::bytes())
        .and_then(move |method: Method, headers: HeaderMap, query: String, body: bytes::Bytes| {
            let (app, auth) = (app.clone(), auth.clone());
            async move {
                Ok::<_, warp::Rejection>(
                    answer(&app, &auth, &method, &headers, &query, &body).await,
                )
            }
        })
}

fn reply(status: StatusCode, body: impl Into<String>) -> Response<String> {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
}

fn authorized(auth: &ApiAuth, headers: &HeaderMap, query: &str) -> bool {
    let header = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth.allows(header) {
        return true;
    }
    // Event Grid cannot send a bearer header to a webhook; it can put a key in the URL, as
    // the Functions host's `code` parameter does.
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .is_some_and(|(_, code)| auth.allows(Some(&format!("Bearer {code}"))))
}

async fn answer(
    app: &App,
    auth: &ApiAuth,
    method: &Method,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response<String> {
    if !authorized(auth, headers, query) {
        return reply(StatusCode::UNAUTHORIZED, "");
    }

    if method == Method::OPTIONS {
        let pairs = headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        return match polaris_host::abuse_protection_response(pairs, DEFAULT_ALLOWED_ORIGINS) {
            Some(grant) => {
                let mut response = reply(StatusCode::OK, "");
                for (name, value) in grant.headers() {
                    if let Ok(value) = value.parse() {
                        response.headers_mut().insert(name, value);
                    }
                }
                response
            }
            None => reply(StatusCode::FORBIDDEN, "origin not allowed"),
        };
    }
    if method != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "");
    }

    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return reply(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let cloud_events = header("content-type").starts_with("application/cloudevents");
    match header("aeg-event-type") {
        "SubscriptionValidation" => match polaris_host::validation_response(&value) {
            Some(answer) => {
                let mut response = reply(StatusCode::OK, answer.to_string());
                response.headers_mut().insert(
                    "content-type",
                    warp::http::HeaderValue::from_static("application/json"),
                );
                response
            }
            None => reply(StatusCode::BAD_REQUEST, "no validation code"),
        },
        "Unsubscribe" => reply(StatusCode::ACCEPTED, ""),
        "Notification" => notify(app, &value).await,
        "" if cloud_events => notify(app, &value).await,
        _ => reply(StatusCode::BAD_REQUEST, "missing or unknown aeg-event-type"),
    }
}

async fn notify(app: &App, body: &serde_json::Value) -> Response<String> {
    let events = match IncomingEvent::parse_batch(body) {
        Ok(events) => events,
        Err(e) => return reply(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let results = handle_batch(app, &events).await;
    // Any retryable failure fails the delivery so Event Grid retries it; handled events are
    // recorded, so the retry acts only on the rest.
    match results.iter().find(|d| d.is_retry()) {
        Some(failed) => reply(StatusCode::INTERNAL_SERVER_ERROR, format!("{failed:?}")),
        None => reply(StatusCode::ACCEPTED, ""),
    }
}

//! The warp routes the Functions host calls: one per function in
//! [`polaris_host::FUNCTIONS`], the forwarded HTTP API under `/api/`, and `GET /`.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use warp::http::{Response, StatusCode};
use warp::{Filter, Rejection, Reply};

use super::context::ServeContext;
use super::problem::{JsonReply, problem};
use super::{saga_worker, timers};

/// Header carrying the host's invocation id on every envelope request.
const INVOCATION_ID: &str = "x-azure-functions-invocationid";

/// Every route of the handler. Unknown paths get a JSON 404, never an empty body.
pub fn routes(
    ctx: Arc<ServeContext>,
) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let api_ctx = ctx.clone();
    let with_ctx = warp::any().map(move || ctx.clone());
    let invocation =
        with_ctx.and(warp::header::optional::<String>(INVOCATION_ID)).and(warp::body::bytes());

    // The host's readiness probe: any answer counts, and no client is built for it.
    let ready = warp::path::end().and(warp::get()).map(|| {
        warp::reply::with_status(
            warp::reply::json(&serde_json::json!({"status": "ready"})),
            StatusCode::OK,
        )
    });

    let saga = warp::path!("SagaWorker").and(warp::post()).and(invocation.clone()).then(
        |ctx: Arc<ServeContext>, id: Option<String>, body: Bytes| async move {
            saga_worker::handle(&ctx, id, body).await
        },
    );
    let sweeper = warp::path!("RecoverySweeper").and(warp::post()).and(invocation.clone()).then(
        |ctx: Arc<ServeContext>, id: Option<String>, body: Bytes| async move {
            timers::recovery_sweeper(&ctx, id, body).await
        },
    );
    let rotate = warp::path!("RotateKeys").and(warp::post()).and(invocation.clone()).then(
        |ctx: Arc<ServeContext>, id: Option<String>, body: Bytes| async move {
            timers::rotate_keys(&ctx, id, body).await
        },
    );
    let teardown = warp::path!("TeardownOnEvent").and(warp::post()).and(invocation).then(
        |ctx: Arc<ServeContext>, id: Option<String>, body: Bytes| async move {
            timers::teardown_on_event(&ctx, id, body).await
        },
    );
    let api = match &api_ctx.api {
        Some(api) => api.clone(),
        None => warp::path("api").and(warp::path::tail()).map(|_| api_unavailable()).boxed(),
    };
    // The API uses the app without `ServeContext::app`, so it waits for the warm-up here;
    // a failed warm-up lets the request through for the API to report the store's state.
    let api = warp::any()
        .map(move || api_ctx.clone())
        .then(|ctx: Arc<ServeContext>| async move {
            if let Err(e) = ctx.warm().await {
                tracing::warn!(error = %e, "warm-up failed; the API reports what it finds");
            }
        })
        .untuple_one()
        .and(api);

    ready
        .or(saga)
        .unify()
        .or(sweeper)
        .unify()
        .or(rotate)
        .unify()
        .or(teardown)
        .unify()
        .map(Reply::into_response)
        .or(api.map(Reply::into_response))
        .unify()
        .recover(not_found)
}

/// The handler has no app (its settings are invalid); say so instead of a bare 404.
fn api_unavailable() -> Response<String> {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "not configured",
        "status": 503,
        "detail": "the deployments API needs a configured handler; see the handler's log",
    });
    let mut response = Response::new(body.to_string());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static("application/problem+json"),
    );
    response
}

async fn not_found(rejection: Rejection) -> Result<JsonReply, Infallible> {
    if rejection.is_not_found() {
        return Ok(problem(StatusCode::NOT_FOUND, "no such route", "no function has this path"));
    }
    let status = if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        StatusCode::METHOD_NOT_ALLOWED
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(problem(status, "request refused", &format!("{rejection:?}")))
}

//! JSON answers for the host and for forwarded API callers.

use polaris_host::InvocationResponse;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Json, WithStatus};

pub type JsonReply = WithStatus<Json>;

/// An RFC 9457 problem document; always a JSON object, never an empty body.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> JsonReply {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    warp::reply::with_status(warp::reply::json(&body), status)
}

/// 2xx with the invocation response envelope the host expects.
pub fn invocation_ok(response: &InvocationResponse) -> JsonReply {
    warp::reply::with_status(warp::reply::json(response), StatusCode::OK)
}

/// A route whose implementation is not part of this build. Non-2xx, so the host records a
/// failed invocation instead of silently dropping the event.
pub fn not_available(what: &str) -> JsonReply {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "not available in this build",
        &format!("{what} is not available in this build of polaris"),
    )
}

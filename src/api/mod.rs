//! The Deployments API under `/api`, as one warp filter.
//!
//! The same filter serves the Functions host's forwarded HTTP function (`DeploymentsApi`,
//! paths arrive unchanged with `enableForwardingHttpRequest`) and the embedded runtime
//! (`polaris up`). It follows Durable Functions' status pattern: a submit answers 202 with
//! `Location` and `Retry-After`, a status GET answers 202 while running and 200 when done.
//! Every error is RFC 9457 problem+json. Answers are built from saga state views that never
//! copy the spec, so no secret can reach a client.

mod auth;
pub mod cli;
pub mod client;
mod handlers;
mod openapi;
mod problem;
pub mod remote;
pub mod serve;
mod views;

use std::sync::Arc;

use warp::Filter;
use warp::http::{Method, Response, StatusCode};

use crate::app::App;
use crate::rotation::Rotation;

pub use auth::{ApiAuth, AuthConfigError};
pub use openapi::{ROUTES, openapi_document, openapi_json};
pub use problem::{FieldProblem, PROBLEM_JSON, Problem};
pub use views::{
    AbandonRequest, DeploymentPage, DeploymentView, HistoryItem, LastError, Progress,
    runtime_status,
};

/// Most bytes a request body may have (a spec is a few KB).
pub const MAX_BODY: u64 = 1024 * 1024;

/// Seconds a client should wait before polling a running deployment again.
pub const RETRY_AFTER_SECS: u32 = 5;

/// The API's dependencies.
#[derive(Clone)]
pub struct Api {
    pub app: Arc<App>,
    pub auth: ApiAuth,
    /// Azure clients for `rotate-key`; without them that route answers 503.
    pub rotation: Option<Rotation>,
}

/// The API under `/api` with function-key or bearer authentication; `rotate-key` answers
/// 503 until rotation is configured (use [`Api::with_rotation`]).
pub fn routes(
    app: Arc<App>,
    auth: ApiAuth,
) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone {
    Api::new(app, auth).routes()
}

impl Api {
    pub fn new(app: Arc<App>, auth: ApiAuth) -> Self {
        Self { app, auth, rotation: None }
    }

    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Everything under `/api/`.
    pub fn routes(
        self,
    ) -> impl Filter<Extract = (Response<String>,), Error = warp::Rejection> + Clone {
        let api = Arc::new(self);
        let query = warp::query::raw().or(warp::any().map(String::new)).unify();
        warp::path("api")
            .and(warp::path::tail())
            .and(warp::method())
            .and(query)
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .and_then(
                move |tail: warp::path::Tail,
                      method: Method,
                      query: String,
                      headers: warp::http::HeaderMap,
                      body: bytes::Bytes| {
                    let api = api.clone();
                    async move {
                        let request = handlers::Request {
                            path: tail.as_str().trim_end_matches('/').to_owned(),
                            method,
                            query,
                            headers,
                            body,
                        };
                        Ok::<_, warp::Rejection>(handlers::dispatch(&api, request).await)
                    }
                },
            )
    }
}

/// A JSON answer.
pub(crate) fn json_reply(status: StatusCode, body: &impl serde::Serialize) -> Response<String> {
    let text = serde_json::to_string(body).expect("API answers serialize");
    let mut response = Response::new(text);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", warp::http::HeaderValue::from_static("application/json"));
    response
}

/// A problem+json answer.
pub(crate) fn problem_reply(problem: &Problem) -> Response<String> {
    let mut response = json_reply(problem.status_code(), problem);
    response
        .headers_mut()
        .insert("content-type", warp::http::HeaderValue::from_static(PROBLEM_JSON));
    response
}

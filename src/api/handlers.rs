//! One function per route; `dispatch` picks it from the method and path. The
//! `#[utoipa::path]` attributes here are the source of `/api/openapi.json`.

use std::collections::HashMap;

use polaris_core::ids::DeploymentId;
use polaris_core::saga::{DeploymentStatus, SagaState};
use warp::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use super::views::{AbandonRequest, DeploymentPage, DeploymentView};
use super::{Api, MAX_BODY, Problem, RETRY_AFTER_SECS, json_reply, problem_reply};
use crate::rotation::{RotationOutcome, RotationRun, rotate_one};

/// A request as the dispatcher sees it; `path` is what follows `/api/`.
pub struct Request {
    pub path: String,
    pub method: Method,
    pub query: String,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn query_map(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.query.as_bytes()).into_owned().collect()
    }

    fn instance(&self) -> String {
        format!("/api/{}", self.path)
    }

    fn json_body(&self) -> Result<serde_json::Value, Box<Problem>> {
        if self.body.len() as u64 > MAX_BODY {
            let problem = Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Too large");
            return Err(problem.with_detail(format!("at most {MAX_BODY} bytes")).into());
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            Box::new(Problem::bad_request(format!(
                "the body is not valid JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            )))
        })
    }
}

/// Problems are boxed: they are large and only travel on the error path.
type Answer = Result<Response<String>, Box<Problem>>;

pub async fn dispatch(api: &Api, req: Request) -> Response<String> {
    let authorization = req.header("authorization");
    if !api.auth.allows(authorization) {
        let problem = Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            .with_detail("send `Authorization: Bearer <token>`")
            .at(&req.instance());
        let mut response = problem_reply(&problem);
        response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer"));
        return response;
    }

    let segments: Vec<String> = req.path.split('/').map(str::to_owned).collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let answer = match (&req.method, segs.as_slice()) {
        (&Method::POST, ["deployments"]) => submit(api, &req).await,
        (&Method::GET, ["deployments"]) => list(api, &req).await,
        (&Method::GET, ["deployments", id]) => get(api, &req, id).await,
        (&Method::DELETE, ["deployments", id]) => teardown(api, id).await,
        (&Method::POST, ["deployments", id, "retry"]) => retry(api, id).await,
        (&Method::POST, ["deployments", id, "abandon"]) => abandon(api, &req, id).await,
        (&Method::POST, ["deployments", id, "rotate-key"]) => rotate_key(api, id).await,
        (&Method::POST, ["plan"]) => plan(api, &req).await,
        (&Method::GET, ["openapi.json"]) => openapi().await,
        _ => Err(Box::new(unmatched(&req, &segs))),
    };
    match answer {
        Ok(response) => response,
        Err(problem) => {
            let problem =
                if problem.instance.is_none() { problem.at(&req.instance()) } else { *problem };
            problem_reply(&problem)
        }
    }
}

/// 405 when the path exists with other methods, else 404.
fn unmatched(req: &Request, segs: &[&str]) -> Problem {
    let allowed: &[&str] = match segs {
        ["deployments"] => &["GET", "POST"],
        ["deployments", _] => &["GET", "DELETE"],
        ["deployments", _, "retry" | "abandon" | "rotate-key"] | ["plan"] => &["POST"],
        ["openapi.json"] => &["GET"],
        _ => &[],
    };
    if allowed.is_empty() {
        return Problem::new(StatusCode::NOT_FOUND, "no-route", "Not found").with_detail(format!(
            "no route {} {}",
            req.method,
            req.instance()
        ));
    }
    Problem::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
        .with_detail(format!("allowed: {}", allowed.join(", ")))
}

fn parse_id(id: &str) -> Result<DeploymentId, Box<Problem>> {
    DeploymentId::new(id)
        .map_err(|_| Box::new(Problem::not_found(&format!("deployment `{id}` does not exist"))))
}

fn location(id: &DeploymentId) -> String {
    format!("/api/deployments/{id}")
}

/// 202 with `Location` and `Retry-After`, the body the current view.
fn accepted(state: &SagaState) -> Response<String> {
    let mut response = json_reply(StatusCode::ACCEPTED, &DeploymentView::from_state(state, false));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location(&state.deployment_id)) {
        headers.insert("location", value);
    }
    headers.insert("retry-after", HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// Submit a deployment.
#[utoipa::path(
    post,
    path = "/api/deployments",
    request_body(
        content = serde_json::Value,
        description = "A deployment spec (the module's variables)"
    ),
    params((
        "Idempotency-Key" = Option<String>,
        Header,
        description = "A repeat with the same key returns the same deployment"
    )),
    responses(
        (status = 202, description = "Accepted; poll `Location`", body = DeploymentView,
         headers(("Location" = String), ("Retry-After" = u32))),
        (
            status = 400,
            description = "Invalid spec: every field problem",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 409,
            description = "The Idempotency-Key was used before with another spec",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn submit(api: &Api, req: &Request) -> Answer {
    let spec = req.json_body()?;
    let key = req.header("idempotency-key").map(str::trim).filter(|k| !k.is_empty());
    let state =
        api.app.deployments.submit(&spec, key).await.map_err(|e| Problem::from_worker(&e))?;
    let id = &state.deployment_id;

    // A key names one request: reusing it for another spec is a client bug, not a repeat
    // (secrets are compared redacted, as state keeps them).
    let redacted = polaris_core::spec::parse_spec_value(&spec)
        .ok()
        .and_then(|parsed| serde_json::to_value(parsed).ok());
    if key.is_some() && redacted.as_ref() != Some(&state.spec) {
        let detail =
            format!("the Idempotency-Key was used for deployment `{id}` with another spec");
        let problem = Problem::new(StatusCode::CONFLICT, "idempotency-key-reused", "Key reused");
        return Err(problem.with_detail(detail).into());
    }
    tracing::info!(deployment_id = %id, step = "-", "deployment submitted via API");
    Ok(accepted(&state))
}

/// A deployment's status.
#[utoipa::path(
    get,
    path = "/api/deployments/{id}",
    params(
        ("id" = String, Path, description = "Deployment id"),
        ("history" = Option<bool>, Query, description = "Add every step event"),
    ),
    responses(
        (
            status = 200,
            description = "Terminal (succeeded, torn down, failed, ...)",
            body = DeploymentView
        ),
        (
            status = 202,
            description = "Still running; poll again after `Retry-After`",
            body = DeploymentView,
            headers(("Location" = String), ("Retry-After" = u32))
        ),
        (
            status = 404,
            description = "Unknown deployment",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn get(api: &Api, req: &Request, id: &str) -> Answer {
    let id = parse_id(id)?;
    let state = api.app.deployments.get(&id).await.map_err(|e| Problem::from_worker(&e))?;
    let history = req.query_map().get("history").is_some_and(|v| v == "true" || v == "1");
    let view = DeploymentView::from_state(&state, history);
    if state.status.is_terminal() {
        return Ok(json_reply(StatusCode::OK, &view));
    }
    let mut response = json_reply(StatusCode::ACCEPTED, &view);
    if let Ok(value) = HeaderValue::from_str(&location(&id)) {
        response.headers_mut().insert("location", value);
    }
    response.headers_mut().insert("retry-after", HeaderValue::from(RETRY_AFTER_SECS));
    Ok(response)
}

/// List deployments.
#[utoipa::path(
    get,
    path = "/api/deployments",
    params(
        (
            "status" = Option<String>,
            Query,
            description = "Only this saga status (`running`, `succeeded`, ...)"
        ),
        ("limit" = Option<u32>, Query, description = "Page size, 1-100 (default 20)"),
        ("continuation" = Option<String>, Query, description = "Token from the previous page"),
    ),
    responses(
        (status = 200, description = "One page", body = DeploymentPage),
        (
            status = 400,
            description = "Bad filter or limit",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn list(api: &Api, req: &Request) -> Answer {
    let query = req.query_map();
    let status = match query.get("status") {
        Some(s) => Some(
            serde_json::from_value::<DeploymentStatus>(serde_json::Value::String(s.clone()))
                .map_err(|_| Problem::bad_request(format!("unknown status `{s}`")))?,
        ),
        None => None,
    };
    let limit = match query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| Problem::bad_request("limit must be 1-100"))?,
        None => 20,
    };
    let after = match query.get("continuation") {
        Some(token) => {
            let bad = |_| Box::new(Problem::bad_request("bad continuation token"));
            Some(parse_id(token).map_err(bad)?)
        }
        None => None,
    };
    let page = api
        .app
        .deployments
        .list(status, after.as_ref().map(|a| a.as_str()), limit)
        .await
        .map_err(|e| Problem::from_worker(&e))?;
    let body = DeploymentPage {
        items: page.items.iter().map(|s| DeploymentView::from_state(s, false)).collect(),
        continuation: page.continuation,
    };
    Ok(json_reply(StatusCode::OK, &body))
}

/// Tear down (or cancel a running deployment at its next step boundary).
#[utoipa::path(
    delete,
    path = "/api/deployments/{id}",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 202, description = "Teardown or cancel requested", body = DeploymentView,
         headers(("Location" = String), ("Retry-After" = u32))),
        (
            status = 404,
            description = "Unknown deployment",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 409,
            description = "Not possible in this state",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn teardown(api: &Api, id: &str) -> Answer {
    let id = parse_id(id)?;
    let state = api.app.deployments.teardown(&id).await.map_err(|e| Problem::from_worker(&e))?;
    Ok(accepted(&state))
}

/// Redrive a failed or stuck deployment from the failed step.
#[utoipa::path(
    post,
    path = "/api/deployments/{id}/retry",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (status = 202, description = "Redrive started", body = DeploymentView,
         headers(("Location" = String), ("Retry-After" = u32))),
        (
            status = 404,
            description = "Unknown deployment",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 409,
            description = "Nothing to redrive in this state",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn retry(api: &Api, id: &str) -> Answer {
    let id = parse_id(id)?;
    let state = api.app.deployments.retry(&id).await.map_err(|e| Problem::from_worker(&e))?;
    Ok(accepted(&state))
}

/// Give up on a stuck undo, recording what may remain.
#[utoipa::path(
    post,
    path = "/api/deployments/{id}/abandon",
    params(("id" = String, Path, description = "Deployment id")),
    request_body = AbandonRequest,
    responses(
        (status = 200, description = "Abandoned", body = DeploymentView),
        (
            status = 400,
            description = "No reason given",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 404,
            description = "Unknown deployment",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 409,
            description = "Only a stuck deployment can be abandoned",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn abandon(api: &Api, req: &Request, id: &str) -> Answer {
    let id = parse_id(id)?;
    let body: AbandonRequest = serde_json::from_value(req.json_body()?)
        .map_err(|_| Problem::bad_request("the body must be {\"reason\": \"...\"}"))?;
    if body.reason.trim().is_empty() {
        return Err(Problem::bad_request("the reason must not be empty").into());
    }
    let state = api
        .app
        .deployments
        .abandon(&id, &body.reason)
        .await
        .map_err(|e| Problem::from_worker(&e))?;
    Ok(json_reply(StatusCode::OK, &DeploymentView::from_state(&state, true)))
}

/// Rotate the deployment's key now.
#[utoipa::path(
    post,
    path = "/api/deployments/{id}/rotate-key",
    params(("id" = String, Path, description = "Deployment id")),
    responses(
        (
            status = 200,
            description = "Rotated (or already rotated in this slot)",
            body = RotationOutcome
        ),
        (
            status = 404,
            description = "Unknown deployment",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 409,
            description = "Not a succeeded enhanced deployment",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 502,
            description = "Key Vault refused, or the new version failed its check",
            body = Problem,
            content_type = "application/problem+json"
        ),
        (
            status = 503,
            description = "Rotation is not configured here",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn rotate_key(api: &Api, id: &str) -> Answer {
    let id = parse_id(id)?;
    let Some(rotation) = &api.rotation else {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Rotation unavailable",
        )
        .with_detail("this API instance has no Key Vault client configured")
        .into());
    };
    let run = RotationRun::manual(api.app.worker.clock.now());
    let outcome = rotate_one(&api.app, rotation, &id, &run, true).await.map_err(|e| match e {
        crate::rotation::RotationError::Worker(w) => Problem::from_worker(&w),
    })?;
    match &outcome {
        RotationOutcome::NotApplicable { reason } => {
            Err(Problem::new(StatusCode::CONFLICT, "conflict", "Cannot rotate")
                .with_detail(reason.clone())
                .into())
        }
        RotationOutcome::Failed { code, message, request_id } => {
            let rid = request_id.as_deref().unwrap_or("-");
            Err(Problem::new(StatusCode::BAD_GATEWAY, "rotation-failed", "Rotation failed")
                .with_detail(format!("{code}: {message} (Azure request id {rid})"))
                .into())
        }
        _ => Ok(json_reply(StatusCode::OK, &outcome)),
    }
}

/// The plan for a spec, without deploying.
#[utoipa::path(
    post,
    path = "/api/plan",
    request_body(content = serde_json::Value, description = "A deployment spec"),
    responses(
        (
            status = 200,
            description = "The plan: steps, dependencies, outputs, warnings",
            body = serde_json::Value
        ),
        (
            status = 400,
            description = "Invalid spec",
            body = Problem,
            content_type = "application/problem+json"
        ),
    )
)]
pub async fn plan(api: &Api, req: &Request) -> Answer {
    let spec = req.json_body()?;
    let (_, plan) = api.app.deployments.plan(&spec).map_err(|e| Problem::from_worker(&e))?;
    Ok(json_reply(StatusCode::OK, &plan))
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    responses((status = 200, description = "OpenAPI 3 document", body = serde_json::Value))
)]
pub async fn openapi() -> Answer {
    Ok(json_reply(StatusCode::OK, &super::openapi_document()))
}

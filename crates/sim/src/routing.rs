//! The request pipeline of the HTTPS endpoint: settle due operations, authenticate,
//! inject faults, dispatch to ARM or the Key Vault data plane, add the headers every Azure
//! response carries, and log.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use time::OffsetDateTime;
use warp::Filter;
use warp::path::FullPath;
use warp::reply::Reply as _;

use crate::arm::{self, ids};
use crate::context::Ctx;
use crate::error::{ApiError, Plane};
use crate::faults::{AfterWrite, Fault, FaultTarget};
use crate::keyvault::data_plane;
use crate::reply::Reply;
use crate::request::SimRequest;
use crate::server::{RESET_MARKER, Routes};
use crate::sim::Shared;

/// Which service a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Arm,
    KeyVault { vault: String, rest: Vec<String> },
}

fn classify(req: &SimRequest) -> Target {
    let host = req.host();
    if let Some(vault) = host.strip_suffix(".vault.azure.net") {
        return Target::KeyVault { vault: vault.to_string(), rest: req.segments.clone() };
    }
    match req.segments.as_slice() {
        [kv, vault, rest @ ..] if kv.eq_ignore_ascii_case("kv") => {
            Target::KeyVault { vault: vault.clone(), rest: rest.to_vec() }
        }
        _ => Target::Arm,
    }
}

/// The warp filter of the ARM/Key Vault endpoint.
pub(crate) fn routes(shared: Arc<Shared>) -> Routes {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::body::bytes())
        .then(
            move |method: Method,
                  path: FullPath,
                  query: String,
                  headers: HeaderMap,
                  body: Bytes| {
                let shared = shared.clone();
                async move {
                    let req = SimRequest::new(method, path.as_str(), &query, headers, body);
                    render(handle(&shared, req).await)
                }
            },
        )
        .boxed()
}

pub(crate) async fn handle(shared: &Arc<Shared>, req: SimRequest) -> Reply {
    let now = shared.config.clock.now();
    shared.settle(now).await;

    let target = classify(&req);
    let reply = respond(shared, &req, &target, now).await;
    let reply = decorate(reply, &req, &target, now);

    let status = reply.status.as_u16();
    tracing::debug!(method = %req.method, path = %req.path, status, "sim request");
    shared.log_request(&req, &reply, now);
    reply
}

async fn respond(
    shared: &Arc<Shared>,
    req: &SimRequest,
    target: &Target,
    now: OffsetDateTime,
) -> Reply {
    let plane = match target {
        Target::Arm => Plane::Arm,
        Target::KeyVault { .. } => Plane::KeyVault,
    };
    if req.bearer().is_none() {
        return unauthorized(plane, &shared.config.tenant_id);
    }
    if plane == Plane::Arm && req.query_param("api-version").is_none_or(str::is_empty) {
        let message =
            "The api-version query parameter (?api-version=) is required for all requests.";
        return ApiError::arm(400, "MissingApiVersionParameter", message).into_reply();
    }

    let fault = shared.faults.take(FaultTarget::Service, req.method.as_str(), &req.path);
    let delay = shared.config.latency.timing(&op_key(req, target)).delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let (lro_fault, after) = match fault {
        Some(Fault::Status { status, code, message, retry_after }) => {
            return status_fault(plane, status, &code, &message, retry_after);
        }
        Some(Fault::ResetConnection) => return Reply::reset(),
        Some(Fault::AfterWrite { then }) => (None, Some(then)),
        Some(other @ (Fault::LroFails { .. } | Fault::LroStuck { .. })) => (Some(other), None),
        Some(Fault::HealthCheck503 | Fault::KeyReleaseFails { .. }) | None => (None, None),
    };

    let reply = {
        let mut world = shared.world();
        let mut ctx =
            Ctx { config: &shared.config, base_url: &shared.base_url, now, req, lro_fault };
        let result = match target {
            Target::Arm => arm::dispatch(&mut world, &mut ctx),
            Target::KeyVault { vault, rest } => data_plane::dispatch(&mut world, &ctx, vault, rest),
        };
        result.unwrap_or_else(|e| e.in_plane(plane).into_reply())
    };
    shared.run_effects().await;

    match after {
        Some(AfterWrite::Status { status, code, message, retry_after }) => {
            status_fault(plane, status, &code, &message, retry_after)
        }
        Some(AfterWrite::ResetConnection) => Reply::reset(),
        None => reply,
    }
}

fn status_fault(
    plane: Plane,
    status: u16,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Reply {
    let mut error = ApiError::arm(status, code, message).in_plane(plane);
    if let Some(secs) = retry_after {
        error = error.with_header("Retry-After", secs.to_string());
    }
    error.into_reply()
}

fn unauthorized(plane: Plane, tenant: &str) -> Reply {
    match plane {
        Plane::Arm => ApiError::arm(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        )
        .with_header(
            "WWW-Authenticate",
            format!(
                "Bearer authorization_uri=\"https://login.windows.net/{tenant}\", \
                error=\"invalid_token\", error_description=\"The authentication failed because of \
                    missing 'Authorization' header.\""
            ),
        )
        .into_reply(),
        Plane::KeyVault => ApiError::kv(
            401,
            "Unauthorized",
            "AKV10000: Request is missing a \
            Bearer or PoP token.",
        )
        .with_header(
            "WWW-Authenticate",
            format!(
                "Bearer authorization=\"https://login.microsoftonline.com/{tenant}\", \
                    resource=\"https://vault.azure.net\""
            ),
        )
        .into_reply(),
    }
}

/// Latency-profile key of a request, e.g. `Microsoft.Network/virtualNetworks:PUT`.
fn op_key(req: &SimRequest, target: &Target) -> String {
    let method = req.method.as_str();
    let rtype = match target {
        Target::KeyVault { .. } => "Microsoft.KeyVault/dataPlane".to_string(),
        Target::Arm => match ids::parse(&req.segments) {
            ids::ArmPath::Resource(r) => r.known_type().map_or_else(|| r.type_path(), String::from),
            ids::ArmPath::ResourceGroup { .. } => ids::types::RESOURCE_GROUP.to_string(),
            ids::ArmPath::RoleAssignment { .. } => ids::types::ROLE_ASSIGNMENT.to_string(),
            _ => "*".to_string(),
        },
    };
    format!("{rtype}:{method}")
}

/// Headers present on every Azure response.
fn decorate(mut reply: Reply, req: &SimRequest, target: &Target, now: OffsetDateTime) -> Reply {
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation =
        req.header("x-ms-correlation-request-id").map_or_else(|| request_id.clone(), String::from);
    reply = reply
        .header("x-ms-request-id", request_id)
        .header("x-ms-correlation-request-id", correlation)
        .header("Date", http_date(now));
    if let Some(client_id) = req.header("x-ms-client-request-id") {
        reply = reply.header("x-ms-client-request-id", client_id.to_string());
    }
    if *target == Target::Arm {
        let (name, remaining) = match req.method {
            Method::GET | Method::HEAD => ("x-ms-ratelimit-remaining-subscription-reads", "11999"),
            _ => ("x-ms-ratelimit-remaining-subscription-writes", "1199"),
        };
        reply = reply.header(name, remaining);
    }
    reply
}

/// RFC 7231 IMF-fixdate.
fn http_date(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

/// Turns a [`Reply`] into the response warp sends.
pub(crate) fn render(reply: Reply) -> warp::reply::Response {
    let mut response = match &reply.body {
        Some(body) => warp::reply::json(body).into_response(),
        None => warp::reply().into_response(),
    };
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    if reply.body.is_some() {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value))
        {
            headers.append(name, value);
        }
    }
    if reply.reset {
        headers.insert(RESET_MARKER, HeaderValue::from_static("1"));
    }
    if reply.status == StatusCode::NO_CONTENT {
        headers.remove(http::header::CONTENT_TYPE);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_date_is_imf_fixdate() {
        let t = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap();
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn vault_requests_are_told_apart_by_prefix_or_host() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:9".parse().unwrap());
        let by_path = SimRequest::new(Method::GET, "/kv/Vault1/keys/k", "", headers, Bytes::new());
        let mut headers = HeaderMap::new();
        headers.insert("host", "vault2.vault.azure.net".parse().unwrap());
        let by_host = SimRequest::new(Method::GET, "/keys/k", "", headers, Bytes::new());

        let expected =
            |v: &str| Target::KeyVault { vault: v.into(), rest: vec!["keys".into(), "k".into()] };
        assert_eq!(classify(&by_path), expected("Vault1"));
        assert_eq!(classify(&by_host), expected("vault2"));
    }
}

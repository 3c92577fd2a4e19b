//! Starting operations and serving their polling endpoints.
//!
//! `Azure-AsyncOperation` points at an operation-status resource that always answers 200
//! with a `status`; `Location` points at an operation-result URL that answers 202 until the
//! operation is done and then the final response.

use http::StatusCode;
use serde_json::Value;
use time::Duration;

use super::ids::short_location;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::World;
use crate::state::operations::{OpKind, OpOutcome, OpState, Operation};

/// Polling URLs of a started operation.
pub(crate) struct Started {
    pub status_url: String,
    pub result_url: String,
}

/// What a new operation is about.
pub(crate) struct OpSpec<'a> {
    pub kind: OpKind,
    /// Resource key, or the lower-case vault name for purges.
    pub target: String,
    /// Latency key, e.g. `Microsoft.Network/virtualNetworks:PUT`.
    pub op_key: &'a str,
    pub namespace: &'a str,
    pub location: &'a str,
    pub sub: &'a str,
}

pub(crate) fn start(world: &mut World, ctx: &mut Ctx, spec: OpSpec) -> Started {
    let id = world.uuid();
    let loc = short_location(spec.location);
    let base = format!("/subscriptions/{}/providers/{}/locations/{loc}", spec.sub, spec.namespace);
    let status_path = format!("{base}/operations/{id}");
    let result_path = format!("{base}/operationResults/{id}");
    let latency = ctx.config.latency.timing(spec.op_key).lro_ms;
    let outcome = match spec.kind {
        OpKind::Provision | OpKind::Delete | OpKind::Start => ctx.take_outcome(),
        OpKind::GroupDelete | OpKind::PurgeVault => OpOutcome::Succeed,
    };

    if let Some(resource) = world.resources.get_mut(&spec.target) {
        resource.pending_op = Some(id.clone());
    }
    world.operations.insert(
        id.clone(),
        Operation {
            id: id.clone(),
            status_path: status_path.clone(),
            kind: spec.kind,
            target: spec.target,
            started: ctx.now,
            ready_at: ctx.now + Duration::milliseconds(latency as i64),
            outcome,
            state: OpState::Running,
            stuck_shown: false,
            ended: None,
        },
    );
    Started { status_url: ctx.url(&status_path), result_url: ctx.url(&result_path) }
}

fn find<'a>(world: &'a World, id: &str) -> Result<&'a Operation, ApiError> {
    let found = world.operations.values().find(|op| op.id.eq_ignore_ascii_case(id));
    found.ok_or_else(|| {
        ApiError::arm(404, "OperationNotFound", format!("The operation '{id}' could not be found."))
    })
}

fn with_retry_after(reply: Reply, ctx: &Ctx) -> Reply {
    match ctx.config.latency.poll_retry_after {
        Some(secs) => reply.header("Retry-After", secs.to_string()),
        None => reply,
    }
}

/// GET on the `Azure-AsyncOperation` URL.
pub(crate) fn status(world: &World, ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let op = find(world, id)?;
    let reply = Reply::ok(op.status_body());
    Ok(if op.state == OpState::Running { with_retry_after(reply, ctx) } else { reply })
}

/// GET on the `Location` URL.
pub(crate) fn result(world: &World, ctx: &Ctx, id: &str) -> Result<Reply, ApiError> {
    let op = find(world, id)?;
    match &op.state {
        OpState::Running => {
            let url = format!("{}{}", ctx.base_url, ctx.req.path);
            let url = if ctx.req.raw_query.is_empty() {
                url
            } else {
                format!("{url}?{}", ctx.req.raw_query)
            };
            Ok(with_retry_after(Reply::empty(StatusCode::ACCEPTED).header("Location", url), ctx))
        }
        OpState::Failed { code, message } => Err(ApiError::arm(400, code, message.clone())),
        OpState::Succeeded => match op.kind {
            OpKind::Provision => match world.resources.get(&op.target) {
                Some(r) => Ok(Reply::ok(super::render(world, r))),
                None => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            },
            OpKind::Start => Ok(Reply::empty(StatusCode::NO_CONTENT)),
            OpKind::Delete | OpKind::GroupDelete | OpKind::PurgeVault => {
                Ok(Reply::empty(StatusCode::OK))
            }
        },
    }
}

/// Adds `Azure-AsyncOperation` (and `Location` for deletes) to an accepted reply.
pub(crate) fn headers(reply: Reply, started: &Started, with_location: bool) -> Reply {
    let reply = reply.header("Azure-AsyncOperation", started.status_url.clone());
    if with_location { reply.header("Location", started.result_url.clone()) } else { reply }
}

/// The body of a JSON value with `provisioningState` removed (clients may echo it back).
pub(crate) fn strip_provisioning_state(body: &mut Value) {
    if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
        props.remove("provisioningState");
    }
}

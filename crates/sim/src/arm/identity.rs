//! Microsoft.ManagedIdentity user-assigned identities (synchronous).

use http::{Method, StatusCode};
use serde_json::json;

use super::ids::{ResourceRef, types};
use super::{base_body, put_status, require_location};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::{Resource, World};

pub(crate) fn handle(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    if r.is_collection() {
        return Ok(super::list(world, r, types::IDENTITY));
    }
    match ctx.req.method.clone() {
        Method::GET => super::get(world, r, types::IDENTITY),
        Method::PUT => put(world, ctx, r),
        Method::PATCH => {
            let patch = ctx.req.json_object()?;
            let resource =
                world.get_mut(&r.id()).ok_or_else(|| super::not_found(r, types::IDENTITY))?;
            if let Some(tags) = patch.get("tags") {
                resource.body["tags"] = tags.clone();
            }
            Ok(Reply::ok(resource.body.clone()))
        }
        Method::DELETE => match world.remove_tree(&r.id(), ctx.now) {
            Some(_) => Ok(Reply::empty(StatusCode::OK)),
            None => Ok(Reply::empty(StatusCode::NO_CONTENT)),
        },
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn put(world: &mut World, ctx: &Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    require_location(&request)?;
    let id = r.id();
    let existing = world.get(&id).cloned();

    let mut body = base_body(r, types::IDENTITY, &request);
    let (principal, client) = match &existing {
        Some(e) => {
            (e.body["properties"]["principalId"].clone(), e.body["properties"]["clientId"].clone())
        }
        None => (json!(world.uuid()), json!(world.uuid())),
    };
    body["properties"] = json!({
        "tenantId": ctx.config.tenant_id,
        "principalId": principal,
        "clientId": client,
    });
    body.as_object_mut().expect("object").entry("tags").or_insert_with(|| json!({}));

    world.insert(Resource::new(&id, types::IDENTITY, body.clone()));
    Ok(Reply::json(put_status(existing.is_some()), body))
}

//! Microsoft.Resources: subscriptions (always present) and resource groups.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::ids::{group_key, types};
use super::lro::{self, OpSpec};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::operations::OpKind;
use crate::state::{Resource, World};

/// Every subscription id exists in the sim.
pub(crate) fn subscription(ctx: &Ctx, sub: &str) -> Result<Reply, ApiError> {
    Ok(Reply::ok(json!({
        "id": format!("/subscriptions/{sub}"),
        "subscriptionId": sub,
        "tenantId": ctx.config.tenant_id,
        "displayName": "Polaris simulated subscription",
        "state": "Enabled",
    })))
}

pub(crate) fn list_groups(world: &World, _ctx: &Ctx, sub: &str) -> Result<Reply, ApiError> {
    let prefix = format!("/subscriptions/{}/", sub.to_ascii_lowercase());
    let value: Vec<Value> = world
        .of_type(types::RESOURCE_GROUP)
        .filter(|g| g.id.to_ascii_lowercase().starts_with(&prefix))
        .map(|g| g.body.clone())
        .collect();
    Ok(Reply::ok(json!({ "value": value })))
}

pub(crate) fn group(
    world: &mut World,
    ctx: &mut Ctx,
    sub: &str,
    name: &str,
) -> Result<Reply, ApiError> {
    let gkey = group_key(sub, name);
    let method = ctx.req.method.clone();

    match method {
        Method::HEAD if world.resources.contains_key(&gkey) => {
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        Method::HEAD => Ok(Reply::empty(StatusCode::NOT_FOUND)),
        Method::GET => match world.resources.get(&gkey) {
            Some(g) => Ok(Reply::ok(g.body.clone())),
            None => Err(ApiError::group_not_found(name)),
        },
        Method::PUT => put(world, ctx, sub, name),
        Method::PATCH => {
            let patch = ctx.req.json_object()?;
            let group =
                world.resources.get_mut(&gkey).ok_or_else(|| ApiError::group_not_found(name))?;
            if let Some(tags) = patch.get("tags") {
                group.body["tags"] = tags.clone();
            }
            Ok(Reply::ok(group.body.clone()))
        }
        Method::DELETE => delete(world, ctx, sub, name),
        _ => Err(method_not_allowed(&method)),
    }
}

fn put(world: &mut World, ctx: &Ctx, sub: &str, name: &str) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let location = super::require_location(&request)?;
    let id = format!("/subscriptions/{sub}/resourceGroups/{name}");
    let existing = world.get(&id).cloned();

    if let Some(g) = &existing
        && g.provisioning_state() == Some("Deleting")
    {
        return Err(ApiError::arm(
            409,
            "ResourceGroupBeingDeleted",
            format!(
                "The resource group '{name}' is in deprovisioning state and cannot perform this \
                    operation."
            ),
        ));
    }
    if let Some(g) = &existing
        && g.location().is_some_and(|l| !l.eq_ignore_ascii_case(&location))
    {
        return Err(ApiError::arm(
            409,
            "InvalidResourceGroupLocation",
            format!(
                "Invalid resource group location '{location}'. The Resource group already exists \
                    in location '{}'.",
                g.location().unwrap_or_default()
            ),
        ));
    }

    let mut body = json!({
        "id": id,
        "name": name,
        "type": types::RESOURCE_GROUP,
        "location": location,
        "properties": { "provisioningState": "Succeeded" },
    });
    for field in ["tags", "managedBy"] {
        if let Some(v) = request.get(field) {
            body[field] = v.clone();
        }
    }
    world.insert(Resource::new(&id, types::RESOURCE_GROUP, body.clone()));
    Ok(Reply::json(super::put_status(existing.is_some()), body))
}

fn delete(world: &mut World, ctx: &mut Ctx, sub: &str, name: &str) -> Result<Reply, ApiError> {
    let gkey = group_key(sub, name);
    let group = world.resources.get_mut(&gkey).ok_or_else(|| ApiError::group_not_found(name))?;
    group.set_provisioning_state("Deleting");
    let location = group.location().unwrap_or("eastus").to_string();

    let op_key = format!("{}:DELETE", types::RESOURCE_GROUP);
    let spec = OpSpec {
        kind: OpKind::GroupDelete,
        target: gkey,
        op_key: &op_key,
        namespace: "Microsoft.Resources",
        location: &location,
        sub,
    };
    let started = lro::start(world, ctx, spec);
    Ok(Reply::empty(StatusCode::ACCEPTED).header("Location", started.result_url))
}

pub(crate) fn method_not_allowed(method: &Method) -> ApiError {
    ApiError::arm(
        405,
        "MethodNotAllowed",
        format!("The requested resource does not support http method '{method}'."),
    )
}

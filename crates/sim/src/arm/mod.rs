//! The Azure Resource Manager surface: path parsing, dispatch to one module per provider,
//! and helpers shared by the providers.

pub(crate) mod authorization;
pub(crate) mod compute;
pub(crate) mod container_instance;
pub(crate) mod identity;
pub(crate) mod ids;
pub(crate) mod keyvault;
pub(crate) mod lro;
pub(crate) mod network;
pub(crate) mod resources;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::{Resource, World};
use ids::{ArmPath, ResourceRef, key, types};

pub(crate) fn dispatch(world: &mut World, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    match ids::parse(&ctx.req.segments) {
        ArmPath::Subscription { sub } => resources::subscription(ctx, &sub),
        ArmPath::OperationStatus { id } => lro::status(world, ctx, &id),
        ArmPath::OperationResult { id } => lro::result(world, ctx, &id),
        ArmPath::ComputeSkus { sub } => compute::skus(ctx, &sub),
        ArmPath::DeletedVaults { sub } => keyvault::list_deleted(world, ctx, &sub),
        ArmPath::DeletedVault { sub, location, name, purge } => {
            keyvault::deleted_vault(world, ctx, &sub, &location, &name, purge)
        }
        ArmPath::VaultNameCheck { .. } => keyvault::check_name(world, ctx),
        ArmPath::ResourceGroups { sub } => resources::list_groups(world, ctx, &sub),
        ArmPath::ResourceGroup { sub, name } => resources::group(world, ctx, &sub, &name),
        ArmPath::RoleAssignment { scope, name } => {
            authorization::handle(world, ctx, &scope, name.as_deref())
        }
        ArmPath::ServiceAssociationLink { subnet_id } => {
            container_instance::delete_link(world, ctx, &subnet_id)
        }
        ArmPath::Resource(r) => resource(world, ctx, &r),
        ArmPath::Unknown => Err(ApiError::arm(
            404,
            "NotFound",
            format!("No HTTP resource was found that matches the request URI '{}'.", ctx.req.path),
        )),
    }
}

fn resource(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let group = world.get(&r.group_key()).ok_or_else(|| ApiError::group_not_found(&r.group))?;
    if ctx.is(&Method::PUT) && group.provisioning_state() == Some("Deleting") {
        return Err(ApiError::arm(
            409,
            "ResourceGroupBeingDeleted",
            format!(
                "The resource group '{}' is in deprovisioning state and cannot perform this \
                    operation.",
                r.group
            ),
        ));
    }

    let (rtype, action) = match r.known_type() {
        Some(t) => (t, None),
        None => {
            let parent = ResourceRef { types: r.types[..r.types.len() - 1].to_vec(), ..r.clone() };
            match (r.is_collection(), parent.known_type()) {
                (true, Some(t)) if !parent.is_collection() => {
                    (t, r.types.last().map(String::as_str))
                }
                _ => return unknown_type(world, ctx, r),
            }
        }
    };

    match rtype {
        types::VNET
        | types::SUBNET
        | types::SAL_LIST
        | types::NSG
        | types::NSG_RULE
        | types::PUBLIC_IP
        | types::NIC => network::handle(world, ctx, r, rtype),
        types::IDENTITY => identity::handle(world, ctx, r),
        types::VAULT | types::VAULT_KEY | types::VAULT_KEY_VERSION => {
            keyvault::handle(world, ctx, r, rtype)
        }
        types::CONTAINER_GROUP | types::CONTAINER => {
            container_instance::handle(world, ctx, r, rtype, action)
        }
        types::VM => compute::handle(world, ctx, r),
        _ => unknown_type(world, ctx, r),
    }
}

/// Types the sim does not implement: seeded resources can still be read and deleted.
fn unknown_type(world: &mut World, ctx: &Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let id = r.id();
    if !r.is_collection() && world.get(&id).is_some() {
        if ctx.is(&Method::GET) {
            return Ok(Reply::ok(render(world, world.get(&id).expect("checked"))));
        }
        if ctx.is(&Method::DELETE) {
            world.remove_tree(&id, ctx.now);
            return Ok(Reply::empty(StatusCode::OK));
        }
    }
    Err(ApiError::arm(
        400,
        "InvalidResourceType",
        format!(
            "The resource type '{}' could not be found in the namespace '{}' for api version '{}'.",
            r.types.join("/"),
            r.namespace,
            ctx.api_version()
        ),
    ))
}

/// The body GET returns: stored body plus children rendered inline.
pub(crate) fn render(world: &World, r: &Resource) -> Value {
    let mut body = r.body.clone();
    let inline = match r.rtype.as_str() {
        types::VNET => Some(("subnets", types::SUBNET)),
        types::NSG => Some(("securityRules", types::NSG_RULE)),
        _ => None,
    };
    if let Some((field, child_type)) = inline {
        let children: Vec<Value> =
            world.children(&r.id, child_type).into_iter().map(|c| c.body.clone()).collect();
        if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(field.to_string(), Value::Array(children));
        }
    }
    body
}

/// GET of one resource of a known type.
pub(crate) fn get(world: &World, r: &ResourceRef, rtype: &str) -> Result<Reply, ApiError> {
    match world.get(&r.id()) {
        Some(resource) if resource.rtype == rtype => Ok(Reply::ok(render(world, resource))),
        _ => Err(not_found(r, rtype)),
    }
}

pub(crate) fn not_found(r: &ResourceRef, rtype: &str) -> ApiError {
    ApiError::resource_not_found(rtype, &r.names.join("/"), &r.group)
}

/// GET on a collection: resources of `rtype` under the parent (or in the group).
pub(crate) fn list(world: &World, r: &ResourceRef, rtype: &str) -> Reply {
    let parent = if r.names.is_empty() { r.group_key() } else { key(&r.id()) };
    let prefix = format!("{parent}/");
    let value: Vec<Value> = world
        .of_type(rtype)
        .filter(|res| key(&res.id).starts_with(&prefix))
        .map(|res| render(world, res))
        .collect();
    Reply::ok(json!({ "value": value }))
}

/// Checks the parent of a child resource exists (e.g. the VNet of a subnet).
pub(crate) fn require_parent<'a>(
    world: &'a World,
    r: &ResourceRef,
) -> Result<&'a Resource, ApiError> {
    let depth = r.names.len() - 1;
    let parent_id = r.id_at(depth);
    let parent_ref = ResourceRef {
        types: r.types[..depth].to_vec(),
        names: r.names[..depth].to_vec(),
        ..r.clone()
    };
    let parent_type = parent_ref.known_type().unwrap_or_default();
    world.get(&parent_id).ok_or_else(|| not_found(&parent_ref, parent_type))
}

/// `location` from a PUT body, required for tracked resources.
pub(crate) fn require_location(body: &Value) -> Result<String, ApiError> {
    match body.get("location").and_then(Value::as_str) {
        Some(loc) if !loc.trim().is_empty() => Ok(loc.to_string()),
        _ => {
            Err(ApiError::invalid_content("The 'location' property is required for this resource."))
        }
    }
}

/// Request body turned into the stored shape: id/name/type set, provisioningState dropped.
pub(crate) fn base_body(r: &ResourceRef, rtype: &str, request: &Value) -> Value {
    let mut body = request.clone();
    lro::strip_provisioning_state(&mut body);
    body["id"] = json!(r.id());
    body["name"] = json!(r.name());
    body["type"] = json!(rtype);
    if body.get("properties").is_none_or(|p| !p.is_object()) {
        body["properties"] = json!({});
    }
    body
}

/// Another resource whose body refers to `id` (outside `id`'s own subtree), if any.
pub(crate) fn referenced_by(world: &World, id: &str) -> Option<String> {
    let target = key(id);
    let prefix = format!("{target}/");
    world
        .resources
        .iter()
        .filter(|(k, _)| **k != target && !k.starts_with(&prefix))
        .find(|(_, r)| mentions(&r.body, &target))
        .map(|(_, r)| r.id.clone())
}

fn mentions(value: &Value, target: &str) -> bool {
    match value {
        Value::String(s) => s.eq_ignore_ascii_case(target),
        Value::Array(items) => items.iter().any(|v| mentions(v, target)),
        Value::Object(map) => map.values().any(|v| mentions(v, target)),
        _ => false,
    }
}

/// 201 for a new resource, 200 for an update.
pub(crate) fn put_status(existed: bool) -> StatusCode {
    if existed { StatusCode::OK } else { StatusCode::CREATED }
}

/// An `etag` in the form the Network provider uses.
pub(crate) fn etag(world: &mut World) -> String {
    format!("W/\"{}\"", world.uuid())
}

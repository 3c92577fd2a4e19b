//! Microsoft.Authorization role assignments at any scope (synchronous).
//!
//! Assignments are not idempotent across names: the same (scope, role, principal) under a
//! second name is a 409 `RoleAssignmentExists`.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::ids::{self, key, types};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::{Resource, World, rfc3339};

pub(crate) fn handle(
    world: &mut World,
    ctx: &mut Ctx,
    scope: &str,
    name: Option<&str>,
) -> Result<Reply, ApiError> {
    let Some(name) = name else {
        return Ok(list(world, scope));
    };
    let id = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope.trim_end_matches('/')
    );

    match ctx.req.method.clone() {
        Method::GET => match world.get(&id) {
            Some(ra) => Ok(Reply::ok(ra.body.clone())),
            None => Err(not_found(name)),
        },
        Method::PUT => put(world, ctx, scope, name, &id),
        Method::DELETE => match world.remove_tree(&id, ctx.now) {
            Some(ra) => Ok(Reply::ok(ra.body)),
            None => Ok(Reply::empty(StatusCode::NO_CONTENT)),
        },
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::arm(
        404,
        "RoleAssignmentNotFound",
        format!("The role assignment '{name}' is not found."),
    )
}

fn list(world: &World, scope: &str) -> Reply {
    let prefix = format!("{}/providers/microsoft.authorization/roleassignments/", key(scope));
    let value: Vec<Value> = world
        .of_type(types::ROLE_ASSIGNMENT)
        .filter(|ra| key(&ra.id).starts_with(&prefix))
        .map(|ra| ra.body.clone())
        .collect();
    Reply::ok(json!({ "value": value }))
}

/// Whether a scope exists: the root, any subscription, or an existing group or resource.
fn scope_exists(world: &World, scope: &str) -> bool {
    let segments: Vec<String> =
        scope.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
    match segments.len() {
        0 => true,
        2 => segments[0].eq_ignore_ascii_case("subscriptions"),
        _ => world.get(scope).is_some() || key_exists(world, &segments),
    }
}

/// Keys are not stored as resources; accept a key scope when the key exists.
fn key_exists(world: &World, segments: &[String]) -> bool {
    let ids::ArmPath::Resource(r) = ids::parse(segments) else { return false };
    if r.known_type() != Some(types::VAULT_KEY) || r.is_collection() {
        return false;
    }
    let vault = &r.names[0];
    let exists = world.vault_by_name(vault).is_some_and(|v| key(&v.id) == key(&r.id_at(1)));
    exists
        && world
            .keys
            .get(&vault.to_ascii_lowercase())
            .is_some_and(|k| k.get_live(&r.names[1]).is_some())
}

fn guid_of(role_definition_id: &str) -> String {
    role_definition_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn put(world: &mut World, ctx: &Ctx, scope: &str, name: &str, id: &str) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let props = request.get("properties").cloned().unwrap_or(Value::Null);
    let role = props.get("roleDefinitionId").and_then(Value::as_str).unwrap_or_default();
    let principal = props.get("principalId").and_then(Value::as_str).unwrap_or_default();
    if role.is_empty() || principal.is_empty() {
        return Err(ApiError::invalid_content(
            "The properties 'roleDefinitionId' and 'principalId' are required.",
        ));
    }
    if !scope_exists(world, scope) {
        return Err(ApiError::arm(
            404,
            "ResourceNotFound",
            format!("The scope '{scope}' does not exist."),
        ));
    }

    let same_triple = |ra: &Resource| {
        let p = &ra.body["properties"];
        let ra_scope = p["scope"].as_str().unwrap_or_default();
        key(ra_scope) == key(scope)
            && guid_of(p["roleDefinitionId"].as_str().unwrap_or_default()) == guid_of(role)
            && p["principalId"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(principal))
    };

    if let Some(existing) = world.get(id) {
        if same_triple(existing) {
            return Ok(Reply::json(StatusCode::OK, existing.body.clone()));
        }
        return Err(ApiError::arm(
            409,
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        ));
    }
    if world.of_type(types::ROLE_ASSIGNMENT).any(same_triple) {
        return Err(ApiError::arm(
            409,
            "RoleAssignmentExists",
            "The role assignment already exists.",
        ));
    }

    let scope = format!("/{}", scope.trim_matches('/'));
    let now = rfc3339(ctx.now);
    let mut properties = props.clone();
    properties["scope"] = json!(scope);
    properties
        .as_object_mut()
        .expect("object")
        .entry("principalType")
        .or_insert_with(|| json!("ServicePrincipal"));
    properties["createdOn"] = json!(now);
    properties["updatedOn"] = json!(now);
    let canonical_id = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope.trim_end_matches('/')
    );
    let body = json!({
        "id": canonical_id,
        "name": name,
        "type": types::ROLE_ASSIGNMENT,
        "properties": properties,
    });

    world.insert(Resource::new(&canonical_id, types::ROLE_ASSIGNMENT, body.clone()));
    Ok(Reply::json(StatusCode::CREATED, body))
}

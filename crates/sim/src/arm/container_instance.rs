//! Microsoft.ContainerInstance container groups.
//!
//! A PUT answers 201 with `provisioningState: Pending` and an `Azure-AsyncOperation`
//! header; when the operation completes the group is `Running` and the sim starts a real
//! HTTP listener playing the Polaris proxy (see [`crate::containers`]).

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::ids::{ResourceRef, key, short_location, types};
use super::lro::{self, OpSpec};
use super::network::{delegated_to_aci, link_subnet};
use super::{base_body, put_status, require_location};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::keyvault::store::decode_base64;
use crate::reply::Reply;
use crate::state::operations::OpKind;
use crate::state::{Effect, Resource, World, rfc3339};

/// The allow-all policy Microsoft's samples use; injected when `ccePolicy` is absent, as
/// the platform injects a default policy.
pub(crate) const DEFAULT_CCE_POLICY: &str =
    "eyJhbGxvd19hbGwiOiB0cnVlLCAiY29udGFpbmVycyI6IHsibGVuZ3RoIjogMCwgImVsZW1lbnRzIjogbnVsbH19";

pub(crate) fn handle(
    world: &mut World,
    ctx: &mut Ctx,
    r: &ResourceRef,
    rtype: &'static str,
    action: Option<&str>,
) -> Result<Reply, ApiError> {
    if rtype == types::CONTAINER {
        return logs(world, r, action);
    }
    if let Some(action) = action {
        return group_action(world, ctx, r, action);
    }
    if r.is_collection() {
        return Ok(super::list(world, r, types::CONTAINER_GROUP));
    }
    match ctx.req.method.clone() {
        Method::GET => super::get(world, r, types::CONTAINER_GROUP),
        Method::PUT => put(world, ctx, r),
        Method::DELETE => delete(world, ctx, r),
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn put(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let location = require_location(&request)?;
    let id = r.id();
    let existing = world.get(&id).cloned();
    let props =
        request.get("properties").filter(|p| p.is_object()).cloned().unwrap_or_else(|| json!({}));

    let containers = props.get("containers").and_then(Value::as_array).map_or(0, Vec::len);
    if containers == 0 {
        return Err(ApiError::invalid_content(
            "The container group must have at least one container.",
        ));
    }
    let cce_policy = confidential_policy(&props)?;
    let subnets = check_subnets(world, &props)?;
    let identity = resolve_identity(world, &request, existing.as_ref(), &ctx.config.tenant_id)?;

    let mut body = base_body(r, types::CONTAINER_GROUP, &request);
    strip_secrets(&mut body);
    if let Some(identity) = identity {
        body["identity"] = identity;
    }
    let ip = existing.as_ref().and_then(|e| e.ip).unwrap_or_else(|| world.loopback_ip());
    let p = body["properties"].as_object_mut().expect("object");
    if let Some(policy) = cce_policy {
        p.insert("confidentialComputeProperties".into(), json!({ "ccePolicy": policy }));
    }
    p.entry("sku").or_insert_with(|| json!("Standard"));
    p.entry("initContainers").or_insert_with(|| json!([]));
    p.entry("imageRegistryCredentials").or_insert_with(|| json!([]));
    p.entry("restartPolicy").or_insert_with(|| json!("Always"));
    p.insert("provisioningState".into(), json!("Pending"));
    p.insert("instanceView".into(), json!({ "events": [], "state": "Pending" }));
    if let Some(Value::Object(address)) = p.get_mut("ipAddress") {
        address.insert("ip".into(), json!(ip.to_string()));
        if let Some(label) =
            address.get("dnsNameLabel").and_then(Value::as_str).filter(|l| !l.is_empty())
        {
            let fqdn = format!("{label}.{}.azurecontainer.io", short_location(&location));
            address.insert("fqdn".into(), json!(fqdn));
        }
    }

    if existing.is_some() {
        world.effects.push(Effect::StopListener(key(&id)));
        world.unlink_subnets(&id);
    }
    let mut resource = Resource::new(&id, types::CONTAINER_GROUP, body);
    resource.secret = Some(request);
    resource.ip = Some(ip);
    world.insert(resource);
    for subnet in subnets {
        link_subnet(world, &subnet, &id);
    }

    let op_key = format!("{}:PUT", types::CONTAINER_GROUP);
    let spec = OpSpec {
        kind: OpKind::Provision,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.ContainerInstance",
        location: &location,
        sub: &r.sub,
    };
    let started = lro::start(world, ctx, spec);
    let body = world.get(&id).expect("inserted").body.clone();
    Ok(lro::headers(Reply::json(put_status(existing.is_some()), body), &started, false))
}

/// The policy to store for a confidential group (B08: an empty policy is rejected, an
/// absent one is replaced by the platform default).
fn confidential_policy(props: &Value) -> Result<Option<String>, ApiError> {
    let confidential = props
        .get("sku")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("Confidential"));
    let given = props.pointer("/confidentialComputeProperties/ccePolicy");
    match (confidential, given) {
        (true, None | Some(Value::Null)) => Ok(Some(DEFAULT_CCE_POLICY.to_string())),
        (_, Some(Value::String(policy))) if decode_base64(policy).is_some() => {
            Ok(Some(policy.clone()))
        }
        (false, None | Some(Value::Null)) => Ok(None),
        _ => Err(ApiError::arm(
            400,
            "InvalidCcePolicy",
            "The CCE policy is not valid: the CCE policy cannot be empty and must be base64 \
                encoded for confidential container groups.",
        )),
    }
}

/// Subnets a group is deployed into must exist and be delegated to ACI (B09).
fn check_subnets(world: &World, props: &Value) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for entry in props.get("subnetIds").and_then(Value::as_array).into_iter().flatten() {
        let id = entry.get("id").and_then(Value::as_str).unwrap_or_default();
        let subnet = world.get(id).filter(|s| s.rtype == types::SUBNET).ok_or_else(|| {
            ApiError::arm(400, "SubnetNotFound", format!("The subnet '{id}' could not be found."))
        })?;
        if !delegated_to_aci(subnet) {
            return Err(ApiError::arm(
                400,
                "SubnetMissingRequiredDelegation",
                format!(
                    "Subnet '{id}' lacks the required delegation \
                        'Microsoft.ContainerInstance/containerGroups'."
                ),
            ));
        }
        out.push(subnet.id.clone());
    }
    Ok(out)
}

/// Fills in principal ids: generated for a system-assigned identity, copied from the
/// identity resources for user-assigned ones (which must exist).
fn resolve_identity(
    world: &mut World,
    request: &Value,
    existing: Option<&Resource>,
    tenant: &str,
) -> Result<Option<Value>, ApiError> {
    let Some(identity) = request.get("identity").filter(|i| i.is_object()) else { return Ok(None) };
    let kind = identity.get("type").and_then(Value::as_str).unwrap_or("None").to_string();
    let mut out = json!({ "type": kind });

    if kind.to_ascii_lowercase().contains("systemassigned") {
        let previous = existing.and_then(|e| e.body.pointer("/identity/principalId")).cloned();
        out["principalId"] = previous.unwrap_or_else(|| json!(world.uuid()));
        out["tenantId"] = json!(tenant);
    }
    if let Some(Value::Object(assigned)) = identity.get("userAssignedIdentities") {
        let mut resolved = Map::new();
        for uai_id in assigned.keys() {
            let uai =
                world.get(uai_id).filter(|u| u.rtype == types::IDENTITY).ok_or_else(|| {
                    ApiError::arm(
                        400,
                        "InvalidUserAssignedIdentity",
                        format!("The user-assigned identity '{uai_id}' does not exist."),
                    )
                })?;
            resolved.insert(
                uai_id.clone(),
                json!({
                    "principalId": uai.body["properties"]["principalId"],
                    "clientId": uai.body["properties"]["clientId"],
                }),
            );
        }
        out["userAssignedIdentities"] = Value::Object(resolved);
    }
    Ok(Some(out))
}

/// Azure never returns registry passwords or secure environment values.
fn strip_secrets(body: &mut Value) {
    if let Some(Value::Array(creds)) = body.pointer_mut("/properties/imageRegistryCredentials") {
        for cred in creds {
            if let Some(c) = cred.as_object_mut() {
                c.remove("password");
            }
        }
    }
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(containers)) = body.pointer_mut(&format!("/properties/{list}"))
        else {
            continue;
        };
        for container in containers {
            if let Some(Value::Array(env)) =
                container.pointer_mut("/properties/environmentVariables")
            {
                for var in env {
                    if let Some(v) = var.as_object_mut() {
                        v.remove("secureValue");
                    }
                }
            }
            if let Some(c) = container.pointer_mut("/properties").and_then(Value::as_object_mut) {
                c.remove("instanceView");
            }
        }
    }
}

fn delete(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let id = r.id();
    let Some(group) = world.get(&id).cloned() else {
        return Ok(Reply::empty(StatusCode::NO_CONTENT));
    };
    let op_key = format!("{}:DELETE", types::CONTAINER_GROUP);

    if ctx.config.latency.timing(&op_key).lro_ms == 0 {
        let body = super::render(world, &group);
        world.remove_tree(&id, ctx.now);
        return Ok(Reply::ok(body));
    }

    if let Some(g) = world.get_mut(&id) {
        g.set_provisioning_state("Deleting");
    }
    let location = group.location().unwrap_or("eastus").to_string();
    let spec = OpSpec {
        kind: OpKind::Delete,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.ContainerInstance",
        location: &location,
        sub: &r.sub,
    };
    let started = lro::start(world, ctx, spec);
    Ok(Reply::empty(StatusCode::ACCEPTED)
        .header("azure-asyncoperation", started.status_url)
        .header("Location", started.result_url))
}

fn group_action(
    world: &mut World,
    ctx: &mut Ctx,
    r: &ResourceRef,
    action: &str,
) -> Result<Reply, ApiError> {
    if ctx.req.method != Method::POST {
        return Err(super::resources::method_not_allowed(&ctx.req.method));
    }
    let id = r.id();
    let group_key = key(&id);
    let group = world.get_mut(&id).ok_or_else(|| super::not_found(r, types::CONTAINER_GROUP))?;
    let running = group.body.pointer("/properties/instanceView/state").and_then(Value::as_str)
        == Some("Running");
    let location = group.location().unwrap_or("eastus").to_string();

    match action.to_ascii_lowercase().as_str() {
        "stop" => {
            show_stopped(&mut group.body, ctx.now);
            world.effects.push(Effect::StopListener(group_key));
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        "restart" => {
            show_running(&mut group.body, ctx.now);
            world.effects.push(Effect::StopListener(group_key.clone()));
            world.effects.push(Effect::StartListener(group_key));
            Ok(Reply::empty(StatusCode::NO_CONTENT))
        }
        "start" if running => Ok(Reply::empty(StatusCode::NO_CONTENT)),
        "start" => {
            group.body["properties"]["instanceView"]["state"] = json!("Pending");
            let op_key = format!("{}:POST", types::CONTAINER_GROUP);
            let spec = OpSpec {
                kind: OpKind::Start,
                target: group_key,
                op_key: &op_key,
                namespace: "Microsoft.ContainerInstance",
                location: &location,
                sub: &r.sub,
            };
            let started = lro::start(world, ctx, spec);
            Ok(Reply::empty(StatusCode::ACCEPTED)
                .header("azure-asyncoperation", started.status_url))
        }
        other => Err(ApiError::arm(
            400,
            "InvalidAction",
            format!("The action '{other}' is not supported."),
        )),
    }
}

fn logs(world: &World, r: &ResourceRef, action: Option<&str>) -> Result<Reply, ApiError> {
    if !action.is_some_and(|a| a.eq_ignore_ascii_case("logs")) || r.names.len() != 2 {
        return Err(ApiError::arm(
            400,
            "InvalidResourceType",
            "Only container logs are supported.",
        ));
    }
    let group =
        world.get(&r.id_at(1)).ok_or_else(|| super::not_found(r, types::CONTAINER_GROUP))?;
    let containers = group.body.pointer("/properties/containers").and_then(Value::as_array);
    let found = containers
        .into_iter()
        .flatten()
        .any(|c| c["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(&r.names[1])));
    if !found {
        return Err(ApiError::arm(
            404,
            "ContainerNotFound",
            format!("The container '{}' could not be found.", r.names[1]),
        ));
    }
    Ok(Reply::ok(json!({ "content": format!("polaris-sim: container {} started\n", r.names[1]) })))
}

/// `DELETE .../subnets/{s}/providers/Microsoft.ContainerInstance/serviceAssociationLinks/default`.
pub(crate) fn delete_link(
    world: &mut World,
    ctx: &Ctx,
    subnet_id: &str,
) -> Result<Reply, ApiError> {
    if ctx.req.method != Method::DELETE {
        return Err(super::resources::method_not_allowed(&ctx.req.method));
    }
    let subnet = world.get(subnet_id).ok_or_else(|| {
        ApiError::arm(404, "ResourceNotFound", format!("The subnet '{subnet_id}' was not found."))
    })?;
    let links: Vec<String> = subnet
        .body
        .pointer("/properties/serviceAssociationLinks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.pointer("/properties/link").and_then(Value::as_str).map(String::from))
        .collect();
    if links.is_empty() {
        return Ok(Reply::empty(StatusCode::NO_CONTENT));
    }
    if let Some(live) = links.iter().find(|l| world.get(l).is_some()) {
        return Err(ApiError::arm(
            409,
            "ServiceAssociationLinkInUse",
            format!("The subnet is still used by container group '{live}'."),
        ));
    }
    for link in links {
        world.unlink_subnets(&link);
    }
    Ok(Reply::empty(StatusCode::OK))
}

fn container_views(body: &mut Value, view: Value) {
    if let Some(Value::Array(containers)) = body.pointer_mut("/properties/containers") {
        for container in containers {
            container["properties"]["instanceView"] = view.clone();
        }
    }
}

fn event(name: &str, message: &str, now: OffsetDateTime) -> Value {
    json!({
        "count": 1,
        "firstTimestamp": rfc3339(now),
        "lastTimestamp": rfc3339(now),
        "name": name,
        "message": message,
        "type": "Warning",
    })
}

pub(crate) fn show_running(body: &mut Value, now: OffsetDateTime) {
    body["properties"]["instanceView"] = json!({ "events": [], "state": "Running" });
    let state = json!({ "state": "Running", "startTime": rfc3339(now), "detailStatus": "" });
    container_views(body, json!({ "restartCount": 0, "currentState": state, "events": [] }));
}

pub(crate) fn show_failed(body: &mut Value, message: &str, now: OffsetDateTime) {
    body["properties"]["instanceView"] =
        json!({ "events": [event("Failed", message, now)], "state": "Failed" });
    let state = json!({ "state": "Waiting", "detailStatus": message });
    container_views(body, json!({ "restartCount": 0, "currentState": state, "events": [] }));
}

pub(crate) fn show_waiting(body: &mut Value, message: Option<&str>, now: OffsetDateTime) {
    let events: Vec<Value> = message.map(|m| event("Failed", m, now)).into_iter().collect();
    body["properties"]["instanceView"] = json!({ "events": events.clone(), "state": "Pending" });
    let detail = message.unwrap_or("ContainerCreating");
    let state = json!({ "state": "Waiting", "detailStatus": detail });
    container_views(body, json!({ "restartCount": 0, "currentState": state, "events": events }));
}

fn show_stopped(body: &mut Value, now: OffsetDateTime) {
    body["properties"]["instanceView"] = json!({ "events": [], "state": "Stopped" });
    let state =
        json!({ "state": "Terminated", "finishTime": rfc3339(now), "detailStatus": "Stopped" });
    container_views(body, json!({ "restartCount": 0, "currentState": state, "events": [] }));
}

//! Microsoft.Compute: confidential virtual machines and the resource-SKU list.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::ids::{ResourceRef, key, short_location, types};
use super::lro::{self, OpSpec};
use super::{base_body, put_status, require_location};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::operations::OpKind;
use crate::state::{Resource, World, rfc3339};

pub(crate) fn handle(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    if r.is_collection() {
        return Ok(super::list(world, r, types::VM));
    }
    match ctx.req.method.clone() {
        Method::GET => super::get(world, r, types::VM),
        Method::PUT => put(world, ctx, r),
        Method::DELETE => delete(world, ctx, r),
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::arm(400, "InvalidParameter", message)
}

/// Field report B10: a ConfidentialVM needs the OS-disk security encryption type.
fn validate(ctx: &Ctx, world: &World, request: &Value, location: &str) -> Result<(), ApiError> {
    let props = &request["properties"];
    let security_type = props.pointer("/securityProfile/securityType").and_then(Value::as_str);
    if security_type.is_some_and(|t| t.eq_ignore_ascii_case("ConfidentialVM")) {
        let encryption = props
            .pointer("/storageProfile/osDisk/managedDisk/securityProfile/securityEncryptionType")
            .and_then(Value::as_str);
        if encryption.is_none_or(str::is_empty) {
            return Err(invalid(
                "Required parameter 'osDisk.managedDisk.securityProfile.securityEncryptionType' \
                    is missing (null) for a VM with securityType 'ConfidentialVM'.",
            ));
        }
        let uefi =
            props.pointer("/securityProfile/uefiSettings/vTpmEnabled").and_then(Value::as_bool);
        if uefi == Some(false) {
            return Err(invalid(
                "vTpmEnabled must be true for a VM with securityType 'ConfidentialVM'.",
            ));
        }
    }

    if let Some(size) = props.pointer("/hardwareProfile/vmSize").and_then(Value::as_str) {
        let sku = ctx.config.vm_skus.iter().find(|s| s.name.eq_ignore_ascii_case(size));
        let here = short_location(location);
        if let Some(sku) = sku
            && !sku.locations.iter().any(|l| short_location(l) == here)
        {
            return Err(ApiError::arm(
                409,
                "SkuNotAvailable",
                format!(
                    "The requested VM size '{size}' is currently not available in location \
                        '{location}'."
                ),
            ));
        }
    }

    for nic in props
        .pointer("/networkProfile/networkInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = nic.get("id").and_then(Value::as_str).unwrap_or_default();
        if world.get(id).is_none() {
            return Err(ApiError::arm(404, "NotFound", format!("Resource {id} not found.")));
        }
    }
    Ok(())
}

fn put(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let location = require_location(&request)?;
    validate(ctx, world, &request, &location)?;
    let id = r.id();
    let existing = world.get(&id).cloned();

    let mut body = base_body(r, types::VM, &request);
    if let Some(props) = body["properties"].as_object_mut() {
        if let Some(Value::Object(os)) = props.get_mut("osProfile") {
            os.remove("adminPassword");
            os.remove("customData");
        }
        let vm_id = existing.as_ref().and_then(|e| e.body.pointer("/properties/vmId").cloned());
        props.insert("vmId".into(), vm_id.unwrap_or_else(|| json!(world.uuid())));
        props.insert("timeCreated".into(), json!(rfc3339(ctx.now)));
        props.insert("provisioningState".into(), json!("Creating"));
    }
    world.insert(Resource::new(&id, types::VM, body));

    let op_key = format!("{}:PUT", types::VM);
    let spec = OpSpec {
        kind: OpKind::Provision,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.Compute",
        location: &location,
        sub: &r.sub,
    };
    let started = lro::start(world, ctx, spec);
    let body = world.get(&id).expect("inserted").body.clone();
    Ok(lro::headers(Reply::json(put_status(existing.is_some()), body), &started, false))
}

fn delete(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let id = r.id();
    let Some(vm) = world.get_mut(&id) else {
        return Ok(Reply::empty(StatusCode::NO_CONTENT));
    };
    vm.set_provisioning_state("Deleting");
    let location = vm.location().unwrap_or("eastus").to_string();

    let op_key = format!("{}:DELETE", types::VM);
    let spec = OpSpec {
        kind: OpKind::Delete,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.Compute",
        location: &location,
        sub: &r.sub,
    };
    let started = lro::start(world, ctx, spec);
    Ok(lro::headers(Reply::empty(StatusCode::ACCEPTED), &started, true))
}

/// `GET /subscriptions/{s}/providers/Microsoft.Compute/skus[?$filter=location eq 'x']`.
pub(crate) fn skus(ctx: &Ctx, _sub: &str) -> Result<Reply, ApiError> {
    let wanted = ctx.req.query_param("$filter").and_then(|f| {
        let (_, value) = f.split_once("eq")?;
        Some(short_location(value.trim().trim_matches('\'')))
    });

    let mut value = Vec::new();
    for sku in &ctx.config.vm_skus {
        for location in &sku.locations {
            if wanted.as_ref().is_some_and(|w| *w != short_location(location)) {
                continue;
            }
            let capabilities: Vec<Value> =
                sku.capabilities.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect();
            value.push(json!({
                "resourceType": "virtualMachines",
                "name": sku.name,
                "tier": "Standard",
                "size": sku.name.trim_start_matches("Standard_"),
                "family": sku.family,
                "locations": [location],
                "locationInfo": [{ "location": location, "zones": [], "zoneDetails": [] }],
                "capabilities": capabilities,
                "restrictions": [],
            }));
        }
    }
    Ok(Reply::ok(json!({ "value": value })))
}

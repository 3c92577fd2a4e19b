//! Microsoft.KeyVault management plane: vaults (global names, soft delete, recover,
//! purge), deleted vaults, and `vaults/keys` (create-if-not-exist).

use http::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::ids::{ResourceRef, key, short_location, types};
use super::lro::{self, OpSpec};
use super::{base_body, put_status, require_location};
use crate::context::Ctx;
use crate::error::{ApiError, Plane};
use crate::keyvault::arm_view::{self, purge_protected};
use crate::keyvault::store::{Key, KeySpec};
use crate::reply::Reply;
use crate::state::operations::OpKind;
use crate::state::{DeletedVault, Resource, World, rfc3339};

pub(crate) fn handle(
    world: &mut World,
    ctx: &mut Ctx,
    r: &ResourceRef,
    rtype: &'static str,
) -> Result<Reply, ApiError> {
    match rtype {
        types::VAULT if r.is_collection() => Ok(super::list(world, r, types::VAULT)),
        types::VAULT => vault(world, ctx, r),
        types::VAULT_KEY => keys(world, ctx, r),
        _ => key_version(world, r),
    }
}

fn vault(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    match ctx.req.method.clone() {
        Method::GET => super::get(world, r, types::VAULT),
        Method::PUT => put_vault(world, ctx, r),
        Method::PATCH => patch_vault(world, ctx, r),
        Method::DELETE => match world.remove_tree(&r.id(), ctx.now) {
            Some(_) => Ok(Reply::empty(StatusCode::OK)),
            None => Ok(Reply::empty(StatusCode::NO_CONTENT)),
        },
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn vault_name_taken(name: &str) -> ApiError {
    ApiError::arm(
        409,
        "VaultAlreadyExists",
        format!(
            "The vault name '{name}' is already in use. Vault names are globally unique so it is \
                possible that the name is already taken."
        ),
    )
}

fn put_vault(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let location = require_location(&request)?;
    let id = r.id();
    let name = r.name().to_string();
    let lower = name.to_ascii_lowercase();
    let existing = world.get(&id).cloned();
    let props = request.get("properties").cloned().unwrap_or(Value::Null);

    if props.get("enablePurgeProtection") == Some(&json!(false)) {
        return Err(ApiError::arm(
            400,
            "BadRequest",
            "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge \
                protection for a vault is an irreversible action.",
        ));
    }
    if existing.is_none() && world.vault_by_name(&name).is_some() {
        return Err(vault_name_taken(&name));
    }
    let recover = props
        .get("createMode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("recover"));

    let mut body = if let Some(deleted) = world.deleted_vaults.get(&lower).cloned() {
        if !recover {
            return Err(ApiError::arm(
                409,
                "ConflictError",
                format!(
                    "Exist soft deleted vault with the same name. Vault name '{name}' is held by \
                        a soft-deleted vault; recover it with createMode 'recover' or purge it."
                ),
            ));
        }
        if !short_location(&deleted.location).eq_ignore_ascii_case(&short_location(&location)) {
            return Err(ApiError::arm(
                400,
                "BadRequest",
                "A deleted vault can only be recovered into its original location.",
            ));
        }
        world.deleted_vaults.remove(&lower);
        let mut body = deleted.body;
        body["id"] = json!(id);
        body["name"] = json!(name);
        if let Some(tags) = request.get("tags") {
            body["tags"] = tags.clone();
        }
        body
    } else {
        if recover && existing.is_none() {
            return Err(ApiError::arm(
                404,
                "DeletedVaultNotFound",
                format!("No soft-deleted vault named '{name}' was found to recover."),
            ));
        }
        if props.get("tenantId").and_then(Value::as_str).is_none()
            || props.pointer("/sku/name").is_none()
        {
            return Err(ApiError::arm(
                400,
                "BadRequest",
                "The properties 'tenantId' and 'sku' are required.",
            ));
        }
        new_vault_body(r, &request, existing.as_ref(), ctx.now)
    };

    body["properties"]["provisioningState"] = json!("RegisteringDns");
    body["properties"].as_object_mut().expect("object").remove("createMode");
    world.insert(Resource::new(&id, types::VAULT, body));
    world.keys.entry(lower).or_default();

    // The vault PUT is an LRO without polling headers: clients poll the vault itself.
    let op_key = format!("{}:PUT", types::VAULT);
    let spec = OpSpec {
        kind: OpKind::Provision,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.KeyVault",
        location: &location,
        sub: &r.sub,
    };
    lro::start(world, ctx, spec);
    let body = world.get(&id).expect("inserted").body.clone();
    Ok(Reply::json(put_status(existing.is_some()), body))
}

fn new_vault_body(
    r: &ResourceRef,
    request: &Value,
    existing: Option<&Resource>,
    now: OffsetDateTime,
) -> Value {
    let mut body = base_body(r, types::VAULT, request);
    let name = r.name();
    let props = body["properties"].as_object_mut().expect("object");
    props.insert("vaultUri".into(), json!(format!("{}/", arm_view::vault_base(name))));
    props.entry("accessPolicies").or_insert_with(|| json!([]));
    props.entry("enableRbacAuthorization").or_insert_with(|| json!(false));
    props.insert("enableSoftDelete".into(), json!(true));
    props.entry("softDeleteRetentionInDays").or_insert_with(|| json!(90));
    props.entry("publicNetworkAccess").or_insert_with(|| json!("Enabled"));

    // Purge protection and retention cannot be undone once set.
    if let Some(old) = existing.map(|e| &e.body["properties"]) {
        if old.get("enablePurgeProtection") == Some(&json!(true)) {
            props.insert("enablePurgeProtection".into(), json!(true));
        }
        if let Some(days) = old.get("softDeleteRetentionInDays") {
            props.insert("softDeleteRetentionInDays".into(), days.clone());
        }
    }

    body.as_object_mut().expect("object").entry("tags").or_insert_with(|| json!({}));
    let stamp = rfc3339(now);
    let created = existing
        .and_then(|e| e.body.pointer("/systemData/createdAt"))
        .cloned()
        .unwrap_or_else(|| json!(stamp));
    body["systemData"] = json!({
        "createdBy": "polaris-sim",
        "createdByType": "Application",
        "createdAt": created,
        "lastModifiedBy": "polaris-sim",
        "lastModifiedByType": "Application",
        "lastModifiedAt": stamp,
    });
    body
}

fn patch_vault(world: &mut World, ctx: &Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let patch = ctx.req.json_object()?;
    if patch.pointer("/properties/enablePurgeProtection") == Some(&json!(false)) {
        return Err(ApiError::arm(
            400,
            "BadRequest",
            "The property \"enablePurgeProtection\" cannot be set to false.",
        ));
    }
    let vault = world.get_mut(&r.id()).ok_or_else(|| super::not_found(r, types::VAULT))?;
    if let Some(tags) = patch.get("tags") {
        vault.body["tags"] = tags.clone();
    }
    if let Some(Value::Object(props)) = patch.get("properties") {
        for (k, v) in props {
            if k != "vaultUri" && k != "provisioningState" {
                vault.body["properties"][k] = v.clone();
            }
        }
    }
    Ok(Reply::ok(vault.body.clone()))
}

/// Moves a vault that is being removed into the soft-deleted state.
pub(crate) fn soft_delete(world: &mut World, vault: &Resource, now: OffsetDateTime) {
    let props = &vault.body["properties"];
    let days = props["softDeleteRetentionInDays"].as_i64().unwrap_or(90);
    let name = vault.body["name"].as_str().unwrap_or_default().to_string();
    let sub = vault.id.split('/').nth(2).unwrap_or_default().to_string();

    world.deleted_vaults.insert(
        name.to_ascii_lowercase(),
        DeletedVault {
            subscription: sub,
            location: vault.location().unwrap_or_default().to_string(),
            vault_id: vault.id.clone(),
            tags: vault.body.get("tags").cloned().unwrap_or_else(|| json!({})),
            deletion_date: now,
            scheduled_purge_date: now + Duration::days(days),
            purge_protection: props["enablePurgeProtection"] == json!(true),
            body: vault.body.clone(),
            purging: false,
            name,
        },
    );
}

fn deleted_body(v: &DeletedVault) -> Value {
    json!({
        "id": format!(
            "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
            v.subscription,
            short_location(&v.location),
            v.name
        ),
        "name": v.name,
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": v.vault_id,
            "location": v.location,
            "tags": v.tags,
            "deletionDate": rfc3339(v.deletion_date),
            "scheduledPurgeDate": rfc3339(v.scheduled_purge_date),
            "purgeProtectionEnabled": v.purge_protection,
        },
    })
}

pub(crate) fn list_deleted(world: &World, _ctx: &Ctx, sub: &str) -> Result<Reply, ApiError> {
    let value: Vec<Value> = world
        .deleted_vaults
        .values()
        .filter(|v| v.subscription.eq_ignore_ascii_case(sub))
        .map(deleted_body)
        .collect();
    Ok(Reply::ok(json!({ "value": value })))
}

pub(crate) fn deleted_vault(
    world: &mut World,
    ctx: &mut Ctx,
    sub: &str,
    location: &str,
    name: &str,
    purge: bool,
) -> Result<Reply, ApiError> {
    let lower = name.to_ascii_lowercase();
    let found = world.deleted_vaults.get(&lower).filter(|v| {
        v.subscription.eq_ignore_ascii_case(sub)
            && short_location(&v.location) == short_location(location)
    });
    let Some(deleted) = found.cloned() else {
        return Err(ApiError::arm(
            404,
            "ResourceNotFound",
            format!("The deleted vault '{name}' was not found in location '{location}'."),
        ));
    };

    if !purge {
        return match ctx.req.method {
            Method::GET => Ok(Reply::ok(deleted_body(&deleted))),
            ref other => Err(super::resources::method_not_allowed(other)),
        };
    }
    if ctx.req.method != Method::POST {
        return Err(super::resources::method_not_allowed(&ctx.req.method));
    }
    if deleted.purge_protection {
        return Err(ApiError::arm(
            409,
            "MethodNotAllowed",
            format!(
                "Operation 'DeletedVaultPurge' is not allowed. The vault '{name}' has purge \
                    protection enabled; it will be purged on {}.",
                rfc3339(deleted.scheduled_purge_date)
            ),
        ));
    }

    if let Some(v) = world.deleted_vaults.get_mut(&lower) {
        v.purging = true;
    }
    let spec = OpSpec {
        kind: OpKind::PurgeVault,
        target: lower,
        op_key: "Microsoft.KeyVault/deletedVaults:POST",
        namespace: "Microsoft.KeyVault",
        location,
        sub,
    };
    let started = lro::start(world, ctx, spec);
    Ok(Reply::empty(StatusCode::ACCEPTED).header("Location", started.result_url))
}

pub(crate) fn check_name(world: &World, ctx: &Ctx) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let name = request.get("name").and_then(Value::as_str).unwrap_or_default();
    let taken = world.vault_by_name(name).is_some()
        || world.deleted_vaults.contains_key(&name.to_ascii_lowercase());
    if taken {
        return Ok(Reply::ok(json!({
            "nameAvailable": false,
            "reason": "AlreadyExists",
            "message": format!("The vault name '{name}' is already in use."),
        })));
    }
    Ok(Reply::ok(json!({ "nameAvailable": true })))
}

fn live_vault<'a>(world: &'a World, r: &ResourceRef) -> Result<&'a Resource, ApiError> {
    let vault_id = r.id_at(1);
    world
        .get(&vault_id)
        .filter(|v| v.rtype == types::VAULT)
        .ok_or_else(|| ApiError::resource_not_found(types::VAULT, &r.names[0], &r.group))
}

fn keys(world: &mut World, ctx: &mut Ctx, r: &ResourceRef) -> Result<Reply, ApiError> {
    let vault = live_vault(world, r)?.clone();
    let vault_name = r.names[0].to_ascii_lowercase();

    if r.is_collection() {
        let store = world.keys.get(&vault_name).cloned().unwrap_or_default();
        let value: Vec<Value> = store.live().map(|k| arm_view::arm_key(&vault, k, None)).collect();
        return Ok(Reply::ok(json!({ "value": value })));
    }
    let key_name = r.names[1].clone();
    let existing = world
        .keys
        .get(&vault_name)
        .and_then(|s| s.keys.get(&key_name.to_ascii_lowercase()))
        .cloned();

    match ctx.req.method.clone() {
        Method::GET => match existing.filter(|k| k.deleted.is_none()) {
            Some(k) => Ok(Reply::ok(arm_view::arm_key(&vault, &k, None))),
            None => Err(super::not_found(r, types::VAULT_KEY)),
        },
        Method::PUT => {
            if let Some(k) = existing {
                if k.deleted.is_some() {
                    return Err(ApiError::arm(
                        409,
                        "Conflict",
                        format!(
                            "Key '{key_name}' is currently in a deleted but recoverable state."
                        ),
                    ));
                }
                return Ok(Reply::ok(arm_view::arm_key(&vault, &k, None)));
            }
            let request = ctx.req.json_object()?;
            let spec = KeySpec::from_arm(&request);
            let premium = vault
                .body
                .pointer("/properties/sku/name")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("premium"));
            spec.validate(premium, Plane::Arm)?;

            let version = spec.new_version(world, ctx.now.unix_timestamp());
            let key = Key {
                name: key_name.clone(),
                versions: vec![version],
                tags: spec.tags.clone().unwrap_or_default(),
                rotation_policy: None,
                deleted: None,
            };
            let body = arm_view::arm_key(&vault, &key, None);
            world
                .keys
                .entry(vault_name)
                .or_default()
                .keys
                .insert(key_name.to_ascii_lowercase(), key);
            Ok(Reply::ok(body))
        }
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn key_version(world: &World, r: &ResourceRef) -> Result<Reply, ApiError> {
    let vault = live_vault(world, r)?;
    let store = world.keys.get(&r.names[0].to_ascii_lowercase());
    let key = store
        .and_then(|s| s.get_live(&r.names[1]))
        .ok_or_else(|| super::not_found(r, types::VAULT_KEY))?;

    if r.is_collection() {
        let value: Vec<Value> =
            key.versions.iter().map(|v| arm_view::arm_key(vault, key, Some(v))).collect();
        return Ok(Reply::ok(json!({ "value": value })));
    }
    let version =
        key.version(&r.names[2]).ok_or_else(|| super::not_found(r, types::VAULT_KEY_VERSION))?;
    Ok(Reply::ok(arm_view::arm_key(vault, key, Some(version))))
}

/// Whether the vault has the premium SKU (needed for HSM and exportable keys).
pub(crate) fn is_premium(vault: &Resource) -> bool {
    vault
        .body
        .pointer("/properties/sku/name")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("premium"))
}

/// Used by the data plane: whether the vault's keys are protected from purge.
pub(crate) fn vault_purge_protected(vault: &Resource) -> bool {
    purge_protected(vault)
}

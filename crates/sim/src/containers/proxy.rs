//! What the simulated Polaris proxy answers.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warp::Filter;
use warp::path::FullPath;

use crate::arm::ids::key;
use crate::faults::{Fault, FaultTarget};
use crate::keyvault::material::Material;
use crate::reply::Reply;
use crate::routing::render;
use crate::server::Routes;
use crate::sim::Shared;
use crate::state::{Resource, World};

/// Role definition id (suffix) of "Key Vault Crypto Service Release User".
pub(crate) const RELEASE_ROLE: &str = "08bbd89e-9f13-488c-ac41-acfcb10c90ab";

pub(crate) fn routes(shared: Arc<Shared>, group_key: String) -> Routes {
    warp::method()
        .and(warp::path::full())
        .and(warp::body::bytes())
        .map(move |method: Method, path: FullPath, body: Bytes| {
            render(answer(&shared, &group_key, &method, path.as_str(), &body))
        })
        .boxed()
}

fn answer(shared: &Shared, group_key: &str, method: &Method, path: &str, body: &Bytes) -> Reply {
    let world = shared.world();
    let Some(group) = world.resources.get(group_key) else {
        return Reply::json(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "container group is gone" }),
        );
    };
    let fault_path = format!("{}{path}", group.id);

    match path {
        "/polaris-container/health" => {
            match shared.faults.take(FaultTarget::Health, method.as_str(), &fault_path) {
                Some(Fault::HealthCheck503) => {
                    Reply::json(StatusCode::SERVICE_UNAVAILABLE, json!({ "status": "unavailable" }))
                }
                _ => Reply::ok(json!({ "status": "ok" })),
            }
        }
        "/polaris-container/publicKey" => {
            if let Some(Fault::KeyReleaseFails { reason }) =
                shared.faults.take(FaultTarget::KeyRelease, method.as_str(), &fault_path)
            {
                return Reply::json(StatusCode::BAD_REQUEST, json!({ "error": reason }));
            }
            match public_key(&world, group) {
                Ok(pem) => Reply::ok(json!({ "publicKey": pem })),
                Err(reason) => Reply::json(StatusCode::BAD_REQUEST, json!({ "error": reason })),
            }
        }
        "/polaris-container/logLevel" => Reply::ok(json!({ "level": "info" })),
        _ => Reply::ok(json!({
            "workload": "echo",
            "method": method.as_str(),
            "path": path,
            "body": String::from_utf8_lossy(body),
        })),
    }
}

/// Environment of the proxy container (the one that sets `POLARIS_CONTAINER_KEY_TYPE`),
/// with secure values included.
fn proxy_env(group: &Resource) -> HashMap<String, String> {
    let spec = group.secret.as_ref().unwrap_or(&group.body);
    let containers = spec
        .pointer("/properties/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let env_of = |c: &Value| -> HashMap<String, String> {
        c.pointer("/properties/environmentVariables")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let name = e.get("name")?.as_str()?;
                let value = e.get("value").or_else(|| e.get("secureValue"))?.as_str()?;
                Some((name.to_string(), value.to_string()))
            })
            .collect()
    };
    let envs: Vec<HashMap<String, String>> = containers.iter().map(env_of).collect();
    envs.iter().find(|e| e.contains_key("POLARIS_CONTAINER_KEY_TYPE")).cloned().unwrap_or_default()
}

/// Principal ids of the group's managed identities.
fn principals(group: &Resource) -> Vec<String> {
    let identity = &group.body["identity"];
    let mut out: Vec<String> =
        identity["principalId"].as_str().map(String::from).into_iter().collect();
    if let Some(assigned) = identity["userAssignedIdentities"].as_object() {
        out.extend(assigned.values().filter_map(|v| v["principalId"].as_str().map(String::from)));
    }
    out
}

/// Simulated secure key release, as the SKR sidecar would do it for the proxy.
fn public_key(world: &World, group: &Resource) -> Result<String, String> {
    let env = proxy_env(group);
    let key_type = env.get("POLARIS_CONTAINER_KEY_TYPE").map_or("ephemeral", String::as_str);

    match key_type {
        "ephemeral" => Ok(ephemeral_pem(&group.id)),
        "azure-skr" => azure_skr(world, group, &env),
        other => Err(format!("key type '{other}' is not supported by the simulator")),
    }
}

fn ephemeral_pem(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut n: Vec<u8> = digest.iter().cycle().take(512).copied().collect();
    n[0] |= 0x80;
    Material::Rsa { n, e: vec![1, 0, 1] }.public_pem().unwrap_or_default()
}

fn azure_skr(
    world: &World,
    group: &Resource,
    env: &HashMap<String, String>,
) -> Result<String, String> {
    let endpoint = env
        .get("POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT")
        .ok_or("POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT is not set")?;
    let kid = env
        .get("POLARIS_CONTAINER_AZURE_SKR_KID")
        .ok_or("POLARIS_CONTAINER_AZURE_SKR_KID is not set")?;
    let host = endpoint.trim_start_matches("https://").split(['/', ':']).next().unwrap_or_default();
    let vault_name =
        host.to_ascii_lowercase()
            .strip_suffix(".vault.azure.net")
            .map(String::from)
            .ok_or_else(|| format!("AKV endpoint '{endpoint}' is not a vault host name"))?;
    let key_name = kid
        .rsplit_once("/keys/")
        .map_or(kid.as_str(), |(_, rest)| rest.split('/').next().unwrap_or(rest));

    let vault = world
        .vault_by_name(&vault_name)
        .ok_or_else(|| format!("vault '{vault_name}' not found"))?;
    let key = world
        .keys
        .get(&vault_name)
        .and_then(|k| k.get_live(key_name))
        .ok_or_else(|| format!("key '{key_name}' not found in vault '{vault_name}'"))?;
    let version = key.latest();
    if !version.enabled {
        return Err(format!("key '{key_name}' is disabled"));
    }
    if !version.exportable {
        return Err(format!("key '{key_name}' is not exportable"));
    }
    if version.release_policy.is_none() {
        return Err(format!("key '{key_name}' has no release policy"));
    }

    let principals = principals(group);
    if principals.is_empty() {
        return Err("the container group has no managed identity".into());
    }
    let key_id = format!("{}/keys/{}", vault.id, key.name);
    if !may_release(world, vault, &key_id, &principals) {
        return Err(format!(
            "Forbidden: identity {} is not authorized to release key '{key_name}' (no Key Vault \
                Crypto Service Release User role assignment at the key or vault scope)",
            principals.join(", ")
        ));
    }
    version.material.public_pem().ok_or_else(|| format!("key '{key_name}' has no public key"))
}

/// RBAC: a Release User assignment at the key, vault or an enclosing scope. Vaults using
/// access policies also accept a policy granting `release` on keys.
fn may_release(world: &World, vault: &Resource, key_id: &str, principals: &[String]) -> bool {
    let key_key = key(key_id);
    let by_role = world.role_assignments_for(principals).any(|ra| {
        let role = ra
            .body
            .pointer("/properties/roleDefinitionId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let scope =
            key(ra.body.pointer("/properties/scope").and_then(Value::as_str).unwrap_or_default());
        role.to_ascii_lowercase().ends_with(RELEASE_ROLE)
            && (scope.is_empty() || key_key == scope || key_key.starts_with(&format!("{scope}/")))
    });

    let rbac = vault.body.pointer("/properties/enableRbacAuthorization").and_then(Value::as_bool)
        == Some(true);
    let by_policy = !rbac
        && vault
            .body
            .pointer("/properties/accessPolicies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|p| {
                let object = p["objectId"].as_str().unwrap_or_default();
                let keys = p.pointer("/permissions/keys").and_then(Value::as_array);
                principals.iter().any(|q| q.eq_ignore_ascii_case(object))
                    && keys
                        .into_iter()
                        .flatten()
                        .any(|k| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case("release")))
            });
    by_role || by_policy
}

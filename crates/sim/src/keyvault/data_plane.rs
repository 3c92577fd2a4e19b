//! Key Vault data plane (`/keys/...`, `/deletedkeys/...`), api-version 7.x.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::arm_view::{bundle, item, vault_base};
use super::store::{DeletedKey, Key, KeySpec, VaultKeys, release_policy};
use crate::arm::keyvault::{is_premium, vault_purge_protected};
use crate::context::Ctx;
use crate::error::{ApiError, Plane};
use crate::reply::Reply;
use crate::state::{Resource, World};

const SECONDS_PER_DAY: i64 = 86_400;

/// Handles a data-plane request; `path` are the segments after the vault prefix.
pub(crate) fn dispatch(
    world: &mut World,
    ctx: &Ctx,
    vault_name: &str,
    path: &[String],
) -> Result<Reply, ApiError> {
    let version = parse_api_version(ctx.req.query_param("api-version"))?;
    let vault = world.vault_by_name(vault_name).cloned().ok_or_else(|| {
        ApiError::kv(
            404,
            "VaultNotFound",
            format!("The vault '{vault_name}' does not exist or is soft-deleted."),
        )
    })?;
    let lower = vault_name.to_ascii_lowercase();
    let mut store = world.keys.remove(&lower).unwrap_or_default();
    let mut dp = DataPlane { world, ctx, vault: &vault, store: &mut store, api_version: version };

    let result = dp.route(path);
    world.keys.insert(lower, store);
    result
}

/// `7.5` -> (7, 5); previews like `7.3-preview` count as their base version.
fn parse_api_version(raw: Option<&str>) -> Result<(u32, u32), ApiError> {
    let raw = raw.filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::kv(400, "BadParameter", "The 'api-version' query parameter is required.")
    })?;
    let base = raw.split('-').next().unwrap_or(raw);
    let (major, minor) = base.split_once('.').unwrap_or((base, "0"));
    match (major.parse(), minor.parse()) {
        (Ok(major), Ok(minor)) => Ok((major, minor)),
        _ => Err(ApiError::kv(400, "BadParameter", format!("The api-version '{raw}' is invalid."))),
    }
}

struct DataPlane<'a> {
    world: &'a mut World,
    ctx: &'a Ctx<'a>,
    vault: &'a Resource,
    store: &'a mut VaultKeys,
    api_version: (u32, u32),
}

fn key_not_found(name: &str) -> ApiError {
    ApiError::kv(
        404,
        "KeyNotFound",
        format!("A key with (name/id) {name} was not found in this key vault."),
    )
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::kv(400, "BadParameter", message)
}

impl DataPlane<'_> {
    fn route(&mut self, path: &[String]) -> Result<Reply, ApiError> {
        let method = self.ctx.req.method.clone();
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();

        match (method, lower.as_slice()) {
            (Method::GET, ["keys"]) => Ok(self.list()),
            (Method::POST, ["keys", _, "create"]) => self.create(segs[1]),
            (Method::POST, ["keys", _, "rotate"]) => self.rotate(segs[1]),
            (Method::POST, ["keys", _, "release"]) => self.release(segs[1], None),
            (Method::POST, ["keys", _, _, "release"]) => self.release(segs[1], Some(segs[2])),
            (Method::GET, ["keys", _, "versions"]) => self.versions(segs[1]),
            (Method::GET, ["keys", _, "rotationpolicy"]) => self.rotation_policy(segs[1], None),
            (Method::PUT, ["keys", _, "rotationpolicy"]) => {
                let body = self.ctx.req.json_object().map_err(|e| e.in_plane(Plane::KeyVault))?;
                self.rotation_policy(segs[1], Some(body))
            }
            (Method::GET, ["keys", _]) => self.get(segs[1], None),
            (Method::GET, ["keys", _, _]) => self.get(segs[1], Some(segs[2])),
            (Method::PATCH, ["keys", _]) => self.update(segs[1], None),
            (Method::PATCH, ["keys", _, _]) => self.update(segs[1], Some(segs[2])),
            (Method::DELETE, ["keys", _]) => self.delete(segs[1]),
            (Method::GET, ["deletedkeys", _]) => self.deleted(segs[1]),
            (Method::DELETE, ["deletedkeys", _]) => self.purge(segs[1]),
            (Method::POST, ["deletedkeys", _, "recover"]) => self.recover(segs[1]),
            _ => Err(ApiError::kv(
                400,
                "BadParameter",
                format!("Unsupported operation {} {}", self.ctx.req.method, self.ctx.req.path),
            )),
        }
    }

    fn vault_name(&self) -> &str {
        self.vault.body["name"].as_str().unwrap_or_default()
    }

    fn protected(&self) -> bool {
        vault_purge_protected(self.vault)
    }

    fn live(&self, name: &str) -> Result<&Key, ApiError> {
        self.store.get_live(name).ok_or_else(|| key_not_found(name))
    }

    fn live_mut(&mut self, name: &str) -> Result<&mut Key, ApiError> {
        let key =
            self.store.keys.get_mut(&name.to_ascii_lowercase()).filter(|k| k.deleted.is_none());
        key.ok_or_else(|| key_not_found(name))
    }

    fn render(&self, key: &Key, version: Option<&str>) -> Result<Value, ApiError> {
        let v = match version {
            Some(v) if !v.is_empty() => {
                key.version(v).ok_or_else(|| key_not_found(&format!("{}/{v}", key.name)))?
            }
            _ => key.latest(),
        };
        Ok(bundle(self.vault_name(), key, v, self.protected()))
    }

    /// Exportable keys and release need api-version 7.3 or later (B03).
    fn require_skr_version(&self) -> Result<(), ApiError> {
        if self.api_version < (7, 3) {
            return Err(bad(
                "AKV.SKR.1001: Exportable keys and key release require api-version 7.3 or later.",
            ));
        }
        Ok(())
    }

    fn list(&self) -> Reply {
        let value: Vec<Value> = self
            .store
            .live()
            .map(|k| {
                let mut entry = item(self.vault_name(), k, k.latest(), self.protected());
                entry["kid"] = json!(format!("{}/keys/{}", vault_base(self.vault_name()), k.name));
                entry
            })
            .collect();
        Reply::ok(json!({ "value": value, "nextLink": null }))
    }

    fn create(&mut self, name: &str) -> Result<Reply, ApiError> {
        let body = self.ctx.req.json_object().map_err(|e| e.in_plane(Plane::KeyVault))?;
        let spec = KeySpec::from_data_plane(&body);
        if spec.exportable == Some(true) {
            self.require_skr_version()?;
        }
        spec.validate(is_premium(self.vault), Plane::KeyVault)?;
        let lower = name.to_ascii_lowercase();
        if self.store.keys.get(&lower).is_some_and(|k| k.deleted.is_some()) {
            return Err(ApiError::kv(
                409,
                "Conflict",
                format!(
                    "Key {name} is currently in a deleted but recoverable state, and its name \
                        cannot be reused; in this state, the key can only be recovered or purged."
                ),
            ));
        }

        let version = spec.new_version(self.world, self.ctx.now.unix_timestamp());
        let key = self.store.keys.entry(lower).or_insert_with(|| Key {
            name: name.to_string(),
            versions: Vec::new(),
            tags: Default::default(),
            rotation_policy: None,
            deleted: None,
        });
        key.versions.push(version);
        if let Some(tags) = spec.tags {
            key.tags = tags;
        }
        let key = key.clone();
        Ok(Reply::ok(self.render(&key, None)?))
    }

    fn rotate(&mut self, name: &str) -> Result<Reply, ApiError> {
        let now = self.ctx.now.unix_timestamp();
        let latest = self.live(name)?.latest().clone();
        let material = super::material::Material::generate(
            self.world,
            &latest.kty,
            latest.key_size,
            latest.curve.as_deref(),
        );
        let version = self.world.hex_id();

        let key = self.live_mut(name)?;
        key.versions.push(super::store::KeyVersion {
            version,
            material,
            created: now,
            updated: now,
            ..latest
        });
        let key = key.clone();
        Ok(Reply::ok(self.render(&key, None)?))
    }

    fn get(&self, name: &str, version: Option<&str>) -> Result<Reply, ApiError> {
        Ok(Reply::ok(self.render(self.live(name)?, version)?))
    }

    fn versions(&self, name: &str) -> Result<Reply, ApiError> {
        let key = self.live(name)?;
        let value: Vec<Value> = key
            .versions
            .iter()
            .map(|v| item(self.vault_name(), key, v, self.protected()))
            .collect();
        Ok(Reply::ok(json!({ "value": value, "nextLink": null })))
    }

    fn update(&mut self, name: &str, version: Option<&str>) -> Result<Reply, ApiError> {
        let body = self.ctx.req.json_object().map_err(|e| e.in_plane(Plane::KeyVault))?;
        let now = self.ctx.now.unix_timestamp();
        let new_policy = release_policy(body.get("release_policy"));
        let key = self.live_mut(name)?;
        let index = match version.filter(|v| !v.is_empty()) {
            Some(v) => key
                .versions
                .iter()
                .position(|x| x.version.eq_ignore_ascii_case(v))
                .ok_or_else(|| key_not_found(name))?,
            None => key.versions.len() - 1,
        };
        let target = &mut key.versions[index];

        if let Some(policy) = new_policy {
            if !target.exportable {
                return Err(bad(
                    "AKV.SKR.1005: Non-exportable keys must not have a release policy.",
                ));
            }
            let policy = policy.ok_or_else(|| {
                bad("AKV.SKR.1004: Exportable keys must have a \
                release policy; the release policy is missing or empty.")
            })?;
            if target.release_policy.as_ref().is_some_and(|p| p.immutable && p.data != policy.data)
            {
                return Err(bad(
                    "The release policy of this key version is immutable and cannot be changed.",
                ));
            }
            target.release_policy = Some(policy);
        }
        let attrs = &body["attributes"];
        if let Some(enabled) = attrs["enabled"].as_bool() {
            target.enabled = enabled;
        }
        if let Some(nbf) = attrs["nbf"].as_i64() {
            target.nbf = Some(nbf);
        }
        if let Some(exp) = attrs["exp"].as_i64() {
            target.exp = Some(exp);
        }
        if let Some(ops) = body["key_ops"].as_array() {
            target.key_ops = ops.iter().filter_map(Value::as_str).map(String::from).collect();
        }
        target.updated = now;
        let version = target.version.clone();
        if let Some(tags) = body["tags"].as_object() {
            key.tags = tags.clone();
        }
        let key = key.clone();
        Ok(Reply::ok(self.render(&key, Some(&version))?))
    }

    fn rotation_policy(&mut self, name: &str, set: Option<Value>) -> Result<Reply, ApiError> {
        let base = vault_base(self.vault_name());
        let key = self.live_mut(name)?;
        if let Some(mut policy) = set {
            policy["id"] = json!(format!("{base}/keys/{}/rotationpolicy", key.name));
            key.rotation_policy = Some(policy);
        }
        let policy = key.rotation_policy.clone().unwrap_or_else(|| {
            json!({
                "id": format!("{base}/keys/{}/rotationpolicy", key.name),
                "lifetimeActions": [{
                    "trigger": { "timeBeforeExpiry": "P30D" },
                    "action": { "type": "Notify" },
                }],
                "attributes": { "expiryTime": null },
            })
        });
        Ok(Reply::ok(policy))
    }

    /// Secure Key Release. Attestation is not verified; the key must exist, be enabled and
    /// exportable, and carry a release policy.
    fn release(&mut self, name: &str, version: Option<&str>) -> Result<Reply, ApiError> {
        self.require_skr_version()?;
        let body = self.ctx.req.json_object().map_err(|e| e.in_plane(Plane::KeyVault))?;
        let target = body.get("target").and_then(Value::as_str).unwrap_or_default();
        if target.is_empty() {
            return Err(bad("The 'target' attestation token is required."));
        }
        let key = self.live(name)?;
        let v = match version {
            Some(v) => key.version(v).ok_or_else(|| key_not_found(&format!("{name}/{v}")))?,
            None => key.latest(),
        };
        if !v.enabled {
            return Err(ApiError::kv(
                403,
                "Forbidden",
                "Operation release is not allowed on a disabled key.",
            ));
        }
        if !v.exportable || v.release_policy.is_none() {
            return Err(bad(
                "The key is not exportable or has no release policy; it cannot be released.",
            ));
        }

        let mut bundle = bundle(self.vault_name(), key, v, self.protected());
        bundle["key"]["key_hsm"] = json!(URL_SAFE_NO_PAD.encode(self.world.random_bytes(64)));
        let header = json!({ "alg": "RS256", "kid": bundle["key"]["kid"], "typ": "JWT" });
        let payload = json!({
            "request": {
                "api-version": self.ctx.req.query_param("api-version"),
                "enc": body.get("enc").cloned().unwrap_or_else(|| json!("CKM_RSA_AES_KEY_WRAP")),
                "kid": bundle["key"]["kid"],
                "nonce": body.get("nonce").cloned().unwrap_or(Value::Null),
            },
            "response": { "key": bundle },
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(Sha256::digest(signing_input.as_bytes()));
        Ok(Reply::ok(json!({ "value": format!("{signing_input}.{signature}") })))
    }

    fn deleted_body(&self, key: &Key) -> Result<Value, ApiError> {
        let deleted = key.deleted.as_ref().ok_or_else(|| key_not_found(&key.name))?;
        let mut body = self.render(key, None)?;
        body["recoveryId"] =
            json!(format!("{}/deletedkeys/{}", vault_base(self.vault_name()), key.name));
        body["deletedDate"] = json!(deleted.deleted_date);
        body["scheduledPurgeDate"] = json!(deleted.scheduled_purge_date);
        Ok(body)
    }

    fn delete(&mut self, name: &str) -> Result<Reply, ApiError> {
        let now = self.ctx.now.unix_timestamp();
        let key = self.live_mut(name)?;
        key.deleted = Some(DeletedKey {
            deleted_date: now,
            scheduled_purge_date: now + 90 * SECONDS_PER_DAY,
        });
        let key = key.clone();
        Ok(Reply::ok(self.deleted_body(&key)?))
    }

    fn deleted_key(&self, name: &str) -> Result<&Key, ApiError> {
        let key = self.store.keys.get(&name.to_ascii_lowercase()).filter(|k| k.deleted.is_some());
        key.ok_or_else(|| {
            ApiError::kv(404, "KeyNotFound", format!("Deleted Key not found: {name}"))
        })
    }

    fn deleted(&self, name: &str) -> Result<Reply, ApiError> {
        Ok(Reply::ok(self.deleted_body(self.deleted_key(name)?)?))
    }

    fn purge(&mut self, name: &str) -> Result<Reply, ApiError> {
        self.deleted_key(name)?;
        if self.protected() {
            return Err(ApiError::kv(
                403,
                "Forbidden",
                "Operation \"purge\" is not allowed because purge protection is enabled for this \
                    vault. Key Vault service will automatically purge it after the retention \
                    period has passed.",
            ));
        }
        self.store.keys.remove(&name.to_ascii_lowercase());
        Ok(Reply::empty(StatusCode::NO_CONTENT))
    }

    fn recover(&mut self, name: &str) -> Result<Reply, ApiError> {
        self.deleted_key(name)?;
        let key = self.store.keys.get_mut(&name.to_ascii_lowercase()).expect("checked");
        key.deleted = None;
        let key = key.clone();
        Ok(Reply::ok(self.render(&key, None)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_compare_numerically() {
        assert_eq!(parse_api_version(Some("7.3-preview")).unwrap(), (7, 3));
        assert!(parse_api_version(Some("7.2")).unwrap() < (7, 3));
        assert!(parse_api_version(Some("7.10")).unwrap() > (7, 3));
        assert!(parse_api_version(None).is_err());
    }
}

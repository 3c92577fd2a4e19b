//! Keys of all vaults, shared by the ARM `vaults/keys` API and the Key Vault data plane,
//! and the Secure Key Release rules both enforce.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::material::Material;
use crate::error::{ApiError, Plane};
use crate::state::World;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReleasePolicy {
    pub content_type: String,
    pub data: Vec<u8>,
    pub immutable: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct KeyVersion {
    pub version: String,
    pub kty: String,
    pub key_size: Option<u64>,
    pub curve: Option<String>,
    pub key_ops: Vec<String>,
    pub enabled: bool,
    pub exportable: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub release_policy: Option<ReleasePolicy>,
    pub material: Material,
}

#[derive(Debug, Clone)]
pub(crate) struct DeletedKey {
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub name: String,
    pub versions: Vec<KeyVersion>,
    pub tags: Map<String, Value>,
    pub rotation_policy: Option<Value>,
    pub deleted: Option<DeletedKey>,
}

impl Key {
    pub fn latest(&self) -> &KeyVersion {
        self.versions.last().expect("a key has at least one version")
    }

    pub fn version(&self, version: &str) -> Option<&KeyVersion> {
        self.versions.iter().find(|v| v.version.eq_ignore_ascii_case(version))
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct VaultKeys {
    pub keys: BTreeMap<String, Key>,
}

impl VaultKeys {
    pub fn live(&self) -> impl Iterator<Item = &Key> {
        self.keys.values().filter(|k| k.deleted.is_none())
    }

    pub fn get_live(&self, name: &str) -> Option<&Key> {
        self.keys.get(&name.to_ascii_lowercase()).filter(|k| k.deleted.is_none())
    }
}

/// A key create request, from either plane.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySpec {
    pub kty: Option<String>,
    pub key_size: Option<u64>,
    pub curve: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub exportable: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    /// `Some(None)`: a policy object was sent but it carries no usable policy.
    pub release_policy: Option<Option<ReleasePolicy>>,
    pub tags: Option<Map<String, Value>>,
}

impl KeySpec {
    /// ARM `properties` of `vaults/keys` (camelCase, `release_policy` in snake case).
    pub fn from_arm(body: &Value) -> Self {
        let props = &body["properties"];
        Self {
            kty: str_field(props, "kty"),
            key_size: props["keySize"].as_u64(),
            curve: str_field(props, "curveName"),
            key_ops: string_list(&props["keyOps"]),
            enabled: props["attributes"]["enabled"].as_bool(),
            exportable: props["attributes"]["exportable"].as_bool(),
            nbf: props["attributes"]["nbf"].as_i64(),
            exp: props["attributes"]["exp"].as_i64(),
            release_policy: release_policy(props.get("release_policy")),
            tags: body["tags"].as_object().cloned(),
        }
    }

    /// Data-plane `KeyCreateParameters` (snake case).
    pub fn from_data_plane(body: &Value) -> Self {
        Self {
            kty: str_field(body, "kty"),
            key_size: body["key_size"].as_u64(),
            curve: str_field(body, "crv"),
            key_ops: string_list(&body["key_ops"]),
            enabled: body["attributes"]["enabled"].as_bool(),
            exportable: body["attributes"]["exportable"].as_bool(),
            nbf: body["attributes"]["nbf"].as_i64(),
            exp: body["attributes"]["exp"].as_i64(),
            release_policy: release_policy(body.get("release_policy")),
            tags: body["tags"].as_object().cloned(),
        }
    }

    /// The Secure Key Release rules (field report B03/B04) and HSM/SKU rules.
    pub fn validate(&self, premium: bool, plane: Plane) -> Result<(), ApiError> {
        let bad = |message: &str| ApiError::kv(400, "BadParameter", message).in_plane(plane);
        let kty = self.kty.as_deref().ok_or_else(|| bad("The parameter 'kty' is required."))?;
        let known = ["RSA", "RSA-HSM", "EC", "EC-HSM", "oct", "oct-HSM"];
        if !known.iter().any(|k| k.eq_ignore_ascii_case(kty)) {
            return Err(bad(&format!("Invalid key type '{kty}'.")));
        }
        let hsm = kty.to_ascii_uppercase().ends_with("-HSM");
        let exportable = self.exportable.unwrap_or(false);
        let has_policy = matches!(self.release_policy, Some(Some(_)));

        if exportable && !has_policy {
            return Err(bad(
                "AKV.SKR.1004: Exportable keys must have a release policy; the release policy \
                 is missing or empty.",
            ));
        }
        if !exportable && self.release_policy.is_some() {
            return Err(bad("AKV.SKR.1005: Non-exportable keys must not have a release policy."));
        }
        if exportable && !premium {
            return Err(bad(
                "AKV.SKR.1001: Exportable keys are not supported by this vault; a premium vault \
                 or a managed HSM is required.",
            ));
        }
        if exportable && !hsm {
            return Err(bad("Exportable keys must be HSM-protected (RSA-HSM, EC-HSM or oct-HSM)."));
        }
        if hsm && !premium {
            return Err(bad(&format!("Key type '{kty}' requires a premium vault.")));
        }
        Ok(())
    }

    /// A new version built from this (validated) spec.
    pub fn new_version(&self, world: &mut World, now: i64) -> KeyVersion {
        let kty = self.kty.clone().unwrap_or_else(|| "RSA".into());
        let is_rsa = kty.to_ascii_uppercase().starts_with("RSA");
        let key_size = self.key_size.or(is_rsa.then_some(2048));
        let curve = self
            .curve
            .clone()
            .or_else(|| kty.to_ascii_uppercase().starts_with("EC").then(|| "P-256".into()));
        let default_ops = if is_rsa {
            vec!["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
        } else {
            vec!["sign", "verify"]
        };
        KeyVersion {
            version: world.hex_id(),
            material: Material::generate(world, &kty, key_size, curve.as_deref()),
            kty,
            key_size,
            curve,
            key_ops: self
                .key_ops
                .clone()
                .unwrap_or_else(|| default_ops.into_iter().map(String::from).collect()),
            enabled: self.enabled.unwrap_or(true),
            exportable: self.exportable.unwrap_or(false),
            nbf: self.nbf,
            exp: self.exp,
            created: now,
            updated: now,
            release_policy: self.release_policy.clone().flatten(),
        }
    }
}

fn str_field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(String::from)
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
}

/// Parses a `release_policy` object. A policy whose `data` is empty, not base64 or not
/// JSON is "present but unusable", which the service reports as AKV.SKR.1004.
pub(crate) fn release_policy(value: Option<&Value>) -> Option<Option<ReleasePolicy>> {
    let value = value.filter(|v| !v.is_null())?;
    let data = value.get("data").and_then(Value::as_str).unwrap_or_default();
    let decoded = decode_base64(data).filter(|bytes| {
        serde_json::from_slice::<Value>(bytes)
            .is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
    });
    Some(decoded.map(|data| {
        ReleasePolicy {
            content_type: value
                .get("contentType")
                .and_then(Value::as_str)
                .unwrap_or("application/json; charset=utf-8")
                .to_string(),
            data,
            immutable: value.get("immutable").and_then(Value::as_bool).unwrap_or(false),
        }
    }))
}

/// Accepts standard and URL-safe base64, padded or not (clients send both).
pub(crate) fn decode_base64(data: &str) -> Option<Vec<u8>> {
    if data.is_empty() {
        return None;
    }
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(data.trim()).ok())
}

/// Attributes object as both planes render it.
pub(crate) fn attributes(v: &KeyVersion, purge_protected: bool) -> Value {
    let mut attrs = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "exportable": v.exportable,
        "recoveryLevel": if purge_protected { "Recoverable" } else { "Recoverable+Purgeable" },
        "recoverableDays": 90,
    });
    if let Some(nbf) = v.nbf {
        attrs["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        attrs["exp"] = json!(exp);
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_b64() -> String {
        STANDARD.encode(br#"{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[]}]}"#)
    }

    fn spec(kty: &str, exportable: bool, policy: Option<&str>) -> KeySpec {
        let body = json!({
            "kty": kty,
            "attributes": { "exportable": exportable },
            "release_policy":
                policy.map(|d| json!({ "contentType": "application/json", "data": d })),
        });
        KeySpec::from_data_plane(&body)
    }

    fn message(result: Result<(), ApiError>) -> String {
        result.unwrap_err().message
    }

    #[test]
    fn skr_rules_match_the_service_codes() {
        let good = policy_b64();

        assert!(spec("RSA-HSM", true, Some(&good)).validate(true, Plane::KeyVault).is_ok());
        assert!(
            message(spec("RSA-HSM", true, None).validate(true, Plane::Arm))
                .starts_with("AKV.SKR.1004")
        );
        assert!(
            message(spec("RSA-HSM", true, Some("")).validate(true, Plane::Arm))
                .starts_with("AKV.SKR.1004")
        );
        let not_bytes = "this is not base64 json";
        assert!(
            message(spec("RSA-HSM", true, Some(not_bytes)).validate(true, Plane::Arm))
                .starts_with("AKV.SKR.1004")
        );
        assert!(
            message(spec("RSA-HSM", false, Some(&good)).validate(true, Plane::Arm))
                .starts_with("AKV.SKR.1005")
        );
        assert!(
            message(spec("RSA-HSM", true, Some(&good)).validate(false, Plane::Arm))
                .starts_with("AKV.SKR.1001")
        );
        assert!(message(spec("RSA", true, Some(&good)).validate(true, Plane::Arm)).contains("HSM"));
        assert!(spec("RSA", false, None).validate(false, Plane::Arm).is_ok());
    }

    #[test]
    fn base64_variants_decode_to_the_same_bytes() {
        let raw = b"{\"a\":1}?>";
        let all = [STANDARD.encode(raw), URL_SAFE_NO_PAD.encode(raw)];

        for encoded in all {
            assert_eq!(decode_base64(&encoded).unwrap(), raw);
        }
    }
}

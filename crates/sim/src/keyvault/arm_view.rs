//! How keys look through ARM (`Microsoft.KeyVault/vaults/keys`) and through the data plane.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::store::{Key, KeyVersion, attributes};
use crate::arm::ids::types;
use crate::state::Resource;

/// `https://{vault}.vault.azure.net` without a trailing slash.
pub(crate) fn vault_base(vault_name: &str) -> String {
    format!("https://{}.vault.azure.net", vault_name.to_ascii_lowercase())
}

pub(crate) fn purge_protected(vault: &Resource) -> bool {
    vault.body.pointer("/properties/enablePurgeProtection").and_then(Value::as_bool) == Some(true)
}

fn vault_name(vault: &Resource) -> &str {
    vault.body.get("name").and_then(Value::as_str).unwrap_or_default()
}

/// ARM body of a key (latest version) or of one version.
pub(crate) fn arm_key(vault: &Resource, key: &Key, version: Option<&KeyVersion>) -> Value {
    let v = version.unwrap_or_else(|| key.latest());
    let key_uri = format!("{}/keys/{}", vault_base(vault_name(vault)), key.name);
    let (id, name, rtype) = match version {
        Some(v) => (
            format!("{}/keys/{}/versions/{}", vault.id, key.name, v.version),
            v.version.clone(),
            types::VAULT_KEY_VERSION,
        ),
        None => (format!("{}/keys/{}", vault.id, key.name), key.name.clone(), types::VAULT_KEY),
    };

    let mut props = json!({
        "attributes": attributes(v, purge_protected(vault)),
        "kty": v.kty,
        "keyOps": v.key_ops,
        "keyUri": key_uri,
        "keyUriWithVersion": format!("{key_uri}/{}", v.version),
    });
    if let Some(size) = v.key_size {
        props["keySize"] = json!(size);
    }
    if let Some(curve) = &v.curve {
        props["curveName"] = json!(curve);
    }
    if let Some(policy) = &v.release_policy {
        props["release_policy"] = json!({
            "contentType": policy.content_type,
            "data": STANDARD.encode(&policy.data),
        });
    }
    json!({
        "id": id,
        "name": name,
        "type": rtype,
        "location": vault.location(),
        "tags": key.tags,
        "properties": props,
    })
}

/// Data-plane `KeyBundle`.
pub(crate) fn bundle(vault_name: &str, key: &Key, v: &KeyVersion, purge_protected: bool) -> Value {
    let mut jwk = v.material.public_jwk();
    jwk["kid"] = json!(format!("{}/keys/{}/{}", vault_base(vault_name), key.name, v.version));
    jwk["kty"] = json!(v.kty);
    jwk["key_ops"] = json!(v.key_ops);

    let mut body = json!({
        "key": jwk,
        "attributes": attributes(v, purge_protected),
        "tags": key.tags,
    });
    if let Some(policy) = &v.release_policy {
        body["release_policy"] = json!({
            "contentType": policy.content_type,
            "data": URL_SAFE_NO_PAD.encode(&policy.data),
            "immutable": policy.immutable,
        });
    }
    body
}

/// Data-plane `KeyItem` (list entries).
pub(crate) fn item(vault_name: &str, key: &Key, v: &KeyVersion, purge_protected: bool) -> Value {
    json!({
        "kid": format!("{}/keys/{}/{}", vault_base(vault_name), key.name, v.version),
        "attributes": attributes(v, purge_protected),
        "tags": key.tags,
    })
}

//! Identity, vault, key and role assignment bodies for enhanced mode.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::ids::DeploymentId;
use crate::spec::policy::{RELEASE_POLICY_CONTENT_TYPE, ReleasePolicy, RotationPolicy};

/// "Key Vault Crypto Service Release User": the data action `keys/release`, nothing else.
/// The module assigned "Crypto Service Encryption User" on an access-policy vault, which
/// grants wrap/unwrap and, on such a vault, has no effect at all.
pub const KEY_RELEASE_ROLE: &str = "08bbd89e-9f13-488c-ac41-acfcb10c90ab";

/// Key operations the module granted; release itself is governed by the release policy and
/// the role, not by `keyOps`.
const KEY_OPS: [&str; 6] = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"];

/// RSA size of the released key (the module's value; the proxy accepts any size).
const KEY_SIZE: u32 = 4096;

/// A user-assigned identity: unlike the module's system-assigned one, it exists before the
/// container group, so the role assignment is in place before the sidecar first asks for the
/// key, and it survives a re-created group.
pub fn identity_body(location: &str, tags: &Value) -> Value {
    json!({ "location": location, "tags": tags })
}

/// Premium (HSM-backed keys need it, B03), RBAC-authorized, soft delete on.
///
/// `enablePurgeProtection` is sent only when asked for: the property "does not accept false",
/// and a vault whose purge protection is on keeps its name for the whole retention (B01).
pub fn vault_body(
    location: &str,
    tags: &Value,
    tenant_id: &str,
    retention_days: u32,
    purge_protection: bool,
) -> Value {
    let mut properties = json!({
        "tenantId": tenant_id,
        "sku": { "family": "A", "name": "premium" },
        "enableRbacAuthorization": true,
        "enableSoftDelete": true,
        "softDeleteRetentionInDays": retention_days,
        "accessPolicies": []
    });
    if purge_protection {
        properties["enablePurgeProtection"] = json!(true);
    }
    json!({ "location": location, "tags": tags, "properties": properties })
}

/// An exportable RSA-HSM key with the release policy, as base64url of the exact JSON bytes
/// kept in the plan for the read-back check (B03).
pub fn key_body(tags: &Value, release: &ReleasePolicy, rotation: Option<&RotationPolicy>) -> Value {
    let mut properties = json!({
        "kty": "RSA-HSM",
        "keySize": KEY_SIZE,
        "keyOps": KEY_OPS,
        "attributes": { "enabled": true, "exportable": true },
        "release_policy": {
            "contentType": RELEASE_POLICY_CONTENT_TYPE,
            "data": release.to_base64url()
        }
    });
    if let Some(rotation) = rotation {
        properties["rotationPolicy"] = json!(rotation);
    }
    json!({ "tags": tags, "properties": properties })
}

/// Grants the identity key release on the key alone.
///
/// `principalType: ServicePrincipal` lets ARM accept the assignment before the new identity
/// has replicated through Entra ID, which otherwise fails with `PrincipalNotFound`.
pub fn role_assignment_body(subscription_id: &str, principal_placeholder: &str) -> Value {
    let role = format!(
        "/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/\
         {KEY_RELEASE_ROLE}"
    );
    json!({
        "properties": {
            "roleDefinitionId": role,
            "principalId": principal_placeholder,
            "principalType": "ServicePrincipal"
        }
    })
}

/// The role assignment's name: a UUID v5 of the deployment id and the purpose, so a retry
/// addresses the same assignment and nobody else can have created one with that name
/// (`Ownership::DeterministicName`).
pub fn role_assignment_name(deployment_id: &DeploymentId, purpose: &str) -> Uuid {
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:polaris-orchestrator");
    Uuid::new_v5(&namespace, format!("{deployment_id}/{purpose}").as_bytes())
}

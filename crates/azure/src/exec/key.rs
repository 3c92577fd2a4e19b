//! `EnsureKey`: create the exportable key through ARM (create-if-not-exist), then read it
//! back and check that what Key Vault holds is what we meant (field report B03).
//!
//! ARM's key PUT never updates an existing key, so a key left by an earlier run with another
//! policy would silently survive; and a policy the service did not parse the way we sent it
//! would only surface when the SKR sidecar fails to release the key. Both are caught here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use polaris_core::action::{FailureClass, Outcome, StepFailure};
use polaris_core::ids::DeploymentId;
use polaris_core::plan::model::KeyResource;
use serde_json::Value;

use super::{Invocation, failure};

/// What the read-back shows about a key, from either ARM or the data plane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeyView {
    exportable: Option<bool>,
    policy_data: Option<String>,
}

impl KeyView {
    /// ARM's `vaults/keys` body: `properties.attributes` and `properties.release_policy`.
    fn from_arm(body: Option<&Value>) -> Option<Self> {
        let props = body?.get("properties")?;
        let policy = props.pointer("/release_policy/data").and_then(Value::as_str)?;
        Some(Self {
            exportable: props.pointer("/attributes/exportable").and_then(Value::as_bool),
            policy_data: Some(policy.to_owned()),
        })
    }

    /// The data plane's `KeyBundle`: top-level `attributes` and `release_policy`.
    fn from_data_plane(body: Option<&Value>) -> Self {
        let body = body.unwrap_or(&Value::Null);
        Self {
            exportable: body.pointer("/attributes/exportable").and_then(Value::as_bool),
            policy_data: body
                .pointer("/release_policy/data")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

impl Invocation<'_> {
    pub(super) async fn ensure_key(
        &mut self,
        _owner: &DeploymentId,
        key: &KeyResource,
    ) -> Result<Outcome, StepFailure> {
        let res = &key.arm;
        let body = self.resolve_secrets(&res.body).await?;
        self.arm.put(&res.id, &res.api_version, &body).await?;

        let read = self.arm.get(&res.id, &res.api_version).await?;
        let view = match KeyView::from_arm(read.body.as_ref()) {
            Some(view) => view,
            // Older ARM versions omit the policy on GET; the data plane always has it.
            None => self.read_key_from_data_plane(key).await?,
        };

        if let Err(reason) = check(&view, &key.release_policy_json) {
            let message = format!("key `{}` does not match the plan: {reason}", key.name);
            return Err(failure(
                FailureClass::Permanent,
                "ReleasePolicyMismatch",
                message,
                read.request_id,
            ));
        }
        self.finish(&res.outputs, &res.id, &res.api_version, read, true, false).await
    }

    async fn read_key_from_data_plane(&self, key: &KeyResource) -> Result<KeyView, StepFailure> {
        let Some(vault) = vault_name(&key.arm.id) else {
            let message = format!("cannot find the vault name in key id {}", key.arm.id);
            return Err(failure(FailureClass::Permanent, "InvalidKeyId", message, None));
        };
        let keys = self.exec.keyvault.vault(vault)?.scoped(self.budget.clone());
        let read = keys.get_key(&key.name, None).await?;
        Ok(KeyView::from_data_plane(read.body.as_ref()))
    }
}

/// The segment after `/vaults/` in an ARM id.
fn vault_name(id: &str) -> Option<&str> {
    let mut segments = id.split('/');
    segments.by_ref().find(|s| s.eq_ignore_ascii_case("vaults"))?;
    segments.next().filter(|s| !s.is_empty())
}

fn check(view: &KeyView, expected_json: &str) -> Result<(), String> {
    if view.exportable != Some(true) {
        return Err(format!("attributes.exportable is {:?}, expected true", view.exportable));
    }
    let Some(data) = view.policy_data.as_deref().filter(|d| !d.is_empty()) else {
        return Err("the key has no release policy".to_owned());
    };
    match release_policy_matches(data, expected_json) {
        Ok(true) => Ok(()),
        Ok(false) => Err("its release policy differs from the configured one".to_owned()),
        Err(reason) => Err(reason),
    }
}

/// Whether `data` (base64url or standard base64, padded or not, of UTF-8 JSON) decodes to
/// the same JSON document as `expected_json`; key order and whitespace do not matter.
pub fn release_policy_matches(data: &str, expected_json: &str) -> Result<bool, String> {
    let normalized: String = data
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    let bytes = STANDARD_NO_PAD
        .decode(normalized)
        .map_err(|e| format!("its release policy is not base64 ({e})"))?;
    let actual: Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("its release policy is not JSON ({e})"))?;
    let expected: Value = serde_json::from_str(expected_json)
        .map_err(|e| format!("the configured release policy is not JSON ({e})"))?;
    Ok(actual == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    const POLICY: &str = r#"{"version":"1.0.0","anyOf":[{"authority":"https://maa.example",
        "allOf":[{"claim":"x-ms-sevsnpvm-vmpl","equals":"0"}]}]}"#;

    #[test]
    fn policy_matches_in_either_base64_alphabet_and_any_key_order() {
        let reordered = r#"{"anyOf":[{"allOf":[{"equals":"0","claim":"x-ms-sevsnpvm-vmpl"}],
            "authority":"https://maa.example"}],"version":"1.0.0"}"#;
        for data in [STANDARD.encode(reordered), URL_SAFE_NO_PAD.encode(reordered)] {
            assert_eq!(release_policy_matches(&data, POLICY), Ok(true), "{data}");
        }
    }

    #[test]
    fn different_policy_or_garbage_does_not_match() {
        let other = STANDARD.encode(r#"{"version":"1.0.0","anyOf":[]}"#);
        assert_eq!(release_policy_matches(&other, POLICY), Ok(false));
        assert!(release_policy_matches("%%%", POLICY).is_err());
        assert!(release_policy_matches(&STANDARD.encode("not json"), POLICY).is_err());
    }

    #[test]
    fn non_exportable_or_missing_policy_is_a_mismatch() {
        let data = Some(STANDARD.encode(POLICY));
        let view = KeyView { exportable: Some(false), policy_data: data.clone() };
        assert!(check(&view, POLICY).is_err());
        let view = KeyView { exportable: Some(true), policy_data: None };
        assert!(check(&view, POLICY).is_err());
        let view = KeyView { exportable: Some(true), policy_data: data };
        assert!(check(&view, POLICY).is_ok());
    }

    #[test]
    fn vault_name_is_found_in_key_ids() {
        let id =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-a/keys/k";
        assert_eq!(vault_name(id), Some("kv-a"));
        assert_eq!(vault_name("/subscriptions/s"), None);
    }
}

//! What rotation needs from Azure, as two small traits: the Key Vault data plane (create a
//! version, read one back) and ARM's container group restart. Tests use the simulator
//! through the real clients; the traits keep the rotation logic free of HTTP.

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use polaris_azure::{ArmClient, ArmError, KeyVaultClient};
use serde_json::Value;

/// A key version as the data plane shows it, reduced to what rotation checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyVersionInfo {
    pub version: String,
    pub exportable: Option<bool>,
    pub enabled: Option<bool>,
    /// The decoded bytes of `release_policy.data`.
    pub policy_bytes: Option<Vec<u8>>,
    pub policy_content_type: Option<String>,
    /// `attributes.created`, Unix seconds.
    pub created: Option<i64>,
    pub kty: Option<String>,
    pub key_size: Option<u64>,
    pub key_ops: Vec<String>,
    pub request_id: Option<String>,
}

/// A failed Azure call, with what a support case needs and nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct BackendError {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl From<ArmError> for BackendError {
    fn from(e: ArmError) -> Self {
        let service = match &e {
            ArmError::Service(s) | ArmError::Throttled(s) => Some(s),
            _ => None,
        };
        let code = service.map_or_else(|| "AzureRequestFailed".to_owned(), |s| s.code.clone());
        let request_id = service.and_then(|s| s.request_id.clone());
        Self { code, message: e.to_string(), request_id }
    }
}

/// The Key Vault data-plane operations rotation uses.
#[async_trait]
pub trait KeyDataPlane: Send + Sync {
    /// The current version (`version: None`) or one version of a key.
    async fn get_key(
        &self,
        vault: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionInfo, BackendError>;

    /// `POST /keys/{key}/create`: a new version of an existing key.
    async fn create_version(
        &self,
        vault: &str,
        key: &str,
        body: &Value,
    ) -> Result<KeyVersionInfo, BackendError>;
}

/// Restarts a container group so its proxy releases the new key version.
#[async_trait]
pub trait GroupRestarter: Send + Sync {
    /// `POST {id}/restart`; returns the request id.
    async fn restart(&self, id: &str, api_version: &str) -> Result<Option<String>, BackendError>;
}

/// Reads a data-plane `KeyBundle`.
pub fn key_info(body: &Value, request_id: Option<String>) -> KeyVersionInfo {
    let kid = body.pointer("/key/kid").and_then(Value::as_str).unwrap_or_default();
    let policy = body.get("release_policy");
    KeyVersionInfo {
        version: kid.rsplit('/').next().unwrap_or_default().to_owned(),
        exportable: body.pointer("/attributes/exportable").and_then(Value::as_bool),
        enabled: body.pointer("/attributes/enabled").and_then(Value::as_bool),
        policy_bytes: policy
            .and_then(|p| p.get("data"))
            .and_then(Value::as_str)
            .and_then(decode_policy),
        policy_content_type: policy
            .and_then(|p| p.get("contentType"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        created: body.pointer("/attributes/created").and_then(Value::as_i64),
        kty: body.pointer("/key/kty").and_then(Value::as_str).map(str::to_owned),
        key_size: body.pointer("/key/key_size").and_then(Value::as_u64),
        key_ops: body
            .pointer("/key/key_ops")
            .and_then(Value::as_array)
            .map(|ops| ops.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
        request_id,
    }
}

/// Decodes `release_policy.data` in either base64 alphabet, padded or not.
pub fn decode_policy(data: &str) -> Option<Vec<u8>> {
    let data = data.trim();
    [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(data).ok())
}

#[async_trait]
impl KeyDataPlane for KeyVaultClient {
    async fn get_key(
        &self,
        vault: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionInfo, BackendError> {
        let read = self.vault(vault)?.get_key(key, version).await?;
        Ok(key_info(&read.body.unwrap_or(Value::Null), read.request_id))
    }

    async fn create_version(
        &self,
        vault: &str,
        key: &str,
        body: &Value,
    ) -> Result<KeyVersionInfo, BackendError> {
        let made = self.vault(vault)?.create_key(key, body).await?;
        Ok(key_info(&made.body.unwrap_or(Value::Null), made.request_id))
    }
}

#[async_trait]
impl GroupRestarter for ArmClient {
    async fn restart(&self, id: &str, api_version: &str) -> Result<Option<String>, BackendError> {
        let path = format!("{}/restart", id.trim_end_matches('/'));
        let answer = self.post(&path, api_version, None).await?;
        Ok(answer.request_id)
    }
}

//! Deployment secrets in the orchestrator's own Key Vault, through the data-plane
//! `secrets` API (7.4) on `azure_core`'s pipeline.
//!
//! Why Key Vault and not a blob: secret values must live where access is audited and where
//! the state store's readers cannot see them. Each secret is one vault secret named
//! `polaris-<deployment>-<digest of key>` (vault names allow only letters, digits and
//! dashes) and tagged with the deployment, so `delete_all` can find them. Vaults soft-delete,
//! so writing a name deleted earlier recovers it first. Values are never logged; errors
//! carry the status and the service's error code only. The identity needs the secrets
//! get/set/list/delete/recover data actions (Key Vault Secrets Officer) on this vault.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::policies::{Policy, auth::BearerTokenAuthorizationPolicy};
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, RawResponse, Request, Url,
};
use polaris_core::ports::{SecretError, SecretStore};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const API_VERSION: &str = "7.4";
const SCOPE: &str = "https://vault.azure.net/.default";
const TAG: &str = "polaris-deployment";
const MAX_PAGES: usize = 100;

pub struct KeyVaultSecretStore {
    vault: Url,
    pipeline: Pipeline,
}

impl std::fmt::Debug for KeyVaultSecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVaultSecretStore").field("vault", &self.vault.as_str()).finish()
    }
}

impl KeyVaultSecretStore {
    /// `vault` is `https://<name>.vault.azure.net`; `options` carries the transport.
    pub fn new(vault: Url, credential: Arc<dyn TokenCredential>, options: ClientOptions) -> Self {
        let auth: Arc<dyn Policy> =
            Arc::new(BearerTokenAuthorizationPolicy::new(credential, [SCOPE]));
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            vec![auth],
            None,
        );
        Self { vault, pipeline }
    }

    /// The vault secret name for one deployment secret.
    pub fn secret_name(deployment: &str, key: &str) -> String {
        let digest = Sha256::digest(key.as_bytes());
        let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        let dep: String = deployment
            .chars()
            .take(80)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("polaris-{dep}-{hex}")
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.vault.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url.query_pairs_mut().append_pair("api-version", API_VERSION);
        url
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Value>,
    ) -> Result<RawResponse, SecretError> {
        let mut request = Request::new(url, method);
        if let Some(body) = body {
            request.insert_header("content-type", "application/json");
            request.set_body(azure_core::Bytes::from(body.to_string()));
        }
        let options = PipelineSendOptions { skip_checks: true, ..Default::default() };
        self.pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await
            .map_err(|e| unavailable(format!("Key Vault request failed: {}", e.kind())))
    }
}

fn unavailable(message: String) -> SecretError {
    SecretError::Unavailable { message }
}

/// Status and the service's error code, never the body's other text.
fn failure(what: &str, response: &RawResponse) -> SecretError {
    let code = serde_json::from_slice::<Value>(response.body())
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    unavailable(format!("{what}: Key Vault answered {} {code}", u16::from(response.status())))
}

#[async_trait]
impl SecretStore for KeyVaultSecretStore {
    async fn put(&self, deployment: &str, key: &str, value: &str) -> Result<(), SecretError> {
        let name = Self::secret_name(deployment, key);
        let body = json!({"value": value, "contentType": "text/plain", "tags": {TAG: deployment}});
        let url = self.url(&["secrets", &name]);
        let response = self.send(Method::Put, url.clone(), Some(body.clone())).await?;
        match u16::from(response.status()) {
            200..=299 => return Ok(()),
            // Soft delete keeps a deleted name taken (a redrive after teardown resubmits
            // the same secrets): recover it, then write the new value over it.
            409 => {}
            _ => return Err(failure("set secret", &response)),
        }

        let recover = self.url(&["deletedsecrets", &name, "recover"]);
        let recovered = self.send(Method::Post, recover, None).await?;
        if !recovered.status().is_success() {
            return Err(failure("recover deleted secret", &recovered));
        }
        // Recovery completes asynchronously; a refusal now is retried with the message.
        let response = self.send(Method::Put, url, Some(body)).await?;
        match u16::from(response.status()) {
            200..=299 => Ok(()),
            _ => Err(failure("set recovered secret", &response)),
        }
    }

    async fn get(&self, deployment: &str, key: &str) -> Result<String, SecretError> {
        let name = Self::secret_name(deployment, key);
        let response = self.send(Method::Get, self.url(&["secrets", &name]), None).await?;
        match u16::from(response.status()) {
            200 => serde_json::from_slice::<Value>(response.body())
                .ok()
                .and_then(|v| v["value"].as_str().map(str::to_owned))
                .ok_or_else(|| unavailable("get secret: answer has no value".to_owned())),
            404 => {
                let (deployment, key) = (deployment.to_owned(), key.to_owned());
                Err(SecretError::Missing { deployment, key })
            }
            _ => Err(failure("get secret", &response)),
        }
    }

    async fn delete_all(&self, deployment: &str) -> Result<(), SecretError> {
        let mut url = self.url(&["secrets"]);
        let mut names = Vec::new();
        for _ in 0..MAX_PAGES {
            let response = self.send(Method::Get, url.clone(), None).await?;
            if !response.status().is_success() {
                return Err(failure("list secrets", &response));
            }
            let page: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
            for item in page["value"].as_array().into_iter().flatten() {
                let ours = item["tags"][TAG].as_str() == Some(deployment);
                let name = item["id"].as_str().and_then(|id| id.rsplit('/').next());
                if let (true, Some(name)) = (ours, name) {
                    names.push(name.to_owned());
                }
            }
            match page["nextLink"].as_str().and_then(|next| Url::parse(next).ok()) {
                // Only follow links on our vault: never send the token elsewhere.
                Some(next) if next.origin() == self.vault.origin() => url = next,
                _ => break,
            }
        }

        for name in names {
            let response = self.send(Method::Delete, self.url(&["secrets", &name]), None).await?;
            if !(response.status().is_success() || u16::from(response.status()) == 404) {
                return Err(failure("delete secret", &response));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_vault_safe_and_distinct_per_key() {
        let a = KeyVaultSecretStore::secret_name("demo-0000abcd", "workload_env_vars.API_KEY");
        let b = KeyVaultSecretStore::secret_name("demo-0000abcd", "registry_password");
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 127);
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{name}");
            assert!(name.starts_with("polaris-demo-0000abcd-"));
        }
    }
}

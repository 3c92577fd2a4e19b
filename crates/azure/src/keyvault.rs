//! Key Vault data plane (keys only), pinned to api-version 7.4: exportable keys and release
//! policies need 7.3 or later (field report B03), and 7.4 is what the SKR sidecar uses.
//!
//! A vault's URL comes from a [`VaultUrlResolver`]: `https://{name}.vault.azure.net` in
//! Azure, a loopback URL in the simulator.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use azure_core::credentials::TokenCredential;
use azure_core::http::{Method, Url};
use serde_json::Value;

use crate::error::ArmError;
use crate::response::ArmResponse;
use crate::rest::{ClientSettings, RestClient};
use crate::retry::WaitBudget;

pub const KEY_VAULT_API_VERSION: &str = "7.4";
pub const KEY_VAULT_SCOPE: &str = "https://vault.azure.net/.default";

/// Most pages `list_versions` follows; a key with more versions than this is not ours.
const MAX_PAGES: usize = 50;

type ResolveFn = dyn Fn(&str) -> Result<Url, url::ParseError> + Send + Sync;

/// Maps a vault name to its data-plane base URL.
#[derive(Clone)]
pub struct VaultUrlResolver(Arc<ResolveFn>);

impl VaultUrlResolver {
    pub fn new(
        resolve: impl Fn(&str) -> Result<Url, url::ParseError> + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(resolve))
    }

    /// `https://{name}.vault.azure.net/`.
    pub fn azure_public() -> Self {
        Self::dns_suffix("vault.azure.net")
    }

    /// `https://{name}.{suffix}/`, e.g. `vault.usgovcloudapi.net`.
    pub fn dns_suffix(suffix: &str) -> Self {
        let suffix = suffix.to_owned();
        Self::new(move |name| Url::parse(&format!("https://{name}.{suffix}/")))
    }

    pub fn resolve(&self, vault: &str) -> Result<Url, ArmError> {
        (self.0)(vault).map_err(|source| ArmError::InvalidUrl { input: vault.to_owned(), source })
    }
}

impl fmt::Debug for VaultUrlResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultUrlResolver")
    }
}

/// Key Vault data-plane client for any vault the resolver knows.
#[derive(Clone)]
pub struct KeyVaultClient {
    credential: Arc<dyn TokenCredential>,
    settings: ClientSettings,
    resolver: VaultUrlResolver,
    scope: String,
    /// One pipeline per vault, so the bearer policy's token cache survives between calls.
    vaults: Arc<Mutex<HashMap<String, RestClient>>>,
}

impl fmt::Debug for KeyVaultClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultClient").field("scope", &self.scope).finish_non_exhaustive()
    }
}

impl KeyVaultClient {
    pub fn new(
        credential: Arc<dyn TokenCredential>,
        resolver: VaultUrlResolver,
        settings: &ClientSettings,
    ) -> Self {
        Self {
            credential,
            settings: settings.clone(),
            resolver,
            scope: KEY_VAULT_SCOPE.to_owned(),
            vaults: Arc::default(),
        }
    }

    /// Overrides the token scope (sovereign clouds: `https://vault.usgovcloudapi.net/.default`).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The keys of one vault.
    pub fn vault(&self, name: &str) -> Result<VaultKeys, ArmError> {
        let mut vaults = self.vaults.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rest) = vaults.get(name) {
            return Ok(VaultKeys { rest: rest.clone() });
        }

        let base = self.resolver.resolve(name)?;
        let rest =
            RestClient::new(base, Arc::clone(&self.credential), &self.scope, &self.settings);
        vaults.insert(name.to_owned(), rest.clone());
        Ok(VaultKeys { rest })
    }
}

/// Key operations on one vault.
#[derive(Clone, Debug)]
pub struct VaultKeys {
    rest: RestClient,
}

impl VaultKeys {
    /// A copy whose requests share `budget`.
    pub fn scoped(&self, budget: WaitBudget) -> Self {
        Self { rest: self.rest.scoped(budget) }
    }

    pub fn base_url(&self) -> &Url {
        self.rest.origin()
    }

    /// `POST /keys/{name}/create`: always makes a **new version** when the key exists.
    pub async fn create_key(&self, name: &str, body: &Value) -> Result<ArmResponse, ArmError> {
        let url = self.url(&["keys", name, "create"])?;
        self.rest.send(Method::Post, url, Some(body)).await
    }

    /// `GET /keys/{name}[/{version}]`; without a version, the current one.
    pub async fn get_key(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<ArmResponse, ArmError> {
        let url = match version {
            Some(version) => self.url(&["keys", name, version])?,
            None => self.url(&["keys", name])?,
        };
        self.rest.send(Method::Get, url, None).await
    }

    /// `PATCH /keys/{name}/{version}`: attributes and release policy of one version.
    pub async fn update_key(
        &self,
        name: &str,
        version: &str,
        body: &Value,
    ) -> Result<ArmResponse, ArmError> {
        let url = self.url(&["keys", name, version])?;
        self.rest.send(Method::Patch, url, Some(body)).await
    }

    /// Every version's `KeyItem`, following `nextLink`.
    pub async fn list_versions(&self, name: &str) -> Result<Vec<Value>, ArmError> {
        let mut url = self.url(&["keys", name, "versions"])?;
        let mut items = Vec::new();

        for _ in 0..MAX_PAGES {
            let page = self.rest.send(Method::Get, url, None).await?;
            let body = page.body.unwrap_or(Value::Null);
            if let Some(values) = body.get("value").and_then(Value::as_array) {
                items.extend(values.iter().cloned());
            }

            match body.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => {
                    url = Url::parse(next).map_err(|source| ArmError::InvalidUrl {
                        input: next.to_owned(),
                        source,
                    })?;
                }
                _ => break,
            }
        }
        Ok(items)
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ArmError> {
        let mut url = self.rest.origin().clone();
        let input = url.to_string();
        url.path_segments_mut()
            .map_err(|()| ArmError::InvalidUrl {
                input,
                source: url::ParseError::RelativeUrlWithCannotBeABaseBase,
            })?
            .pop_if_empty()
            .extend(segments);
        url.query_pairs_mut().append_pair("api-version", KEY_VAULT_API_VERSION);
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::LocalTokenCredential;
    use crate::transport::TransportConfig;

    #[test]
    fn azure_resolver_builds_vault_dns_names() {
        let url = VaultUrlResolver::azure_public().resolve("kv-a").expect("url");
        assert_eq!(url.as_str(), "https://kv-a.vault.azure.net/");
    }

    #[test]
    fn key_urls_are_pinned_to_7_4_and_keep_the_base_path() {
        let settings = ClientSettings::new(&TransportConfig::default()).expect("settings");
        let resolver = VaultUrlResolver::new(|name| {
            Url::parse(&format!("https://127.0.0.1:9443/vaults/{name}/"))
        });
        let kv = KeyVaultClient::new(Arc::new(LocalTokenCredential::new()), resolver, &settings);
        let keys = kv.vault("kv-a").expect("vault");
        let url = keys.url(&["keys", "k1", "create"]).expect("url");
        assert_eq!(
            url.as_str(),
            "https://127.0.0.1:9443/vaults/kv-a/keys/k1/create?api-version=7.4"
        );
    }
}

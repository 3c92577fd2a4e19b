//! The ARM client: resource-id addressed GET/PUT/DELETE/POST plus absolute-URL GETs for
//! polling, on the `azure_core` pipeline. The same code talks to management.azure.com and
//! to the simulator; only the endpoint and the credential differ.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{Method, Url};
use serde_json::Value;

use crate::error::ArmError;
use crate::response::ArmResponse;
use crate::rest::{ClientSettings, RestClient};
use crate::retry::WaitBudget;

/// Token scope of the public cloud's Resource Manager.
pub const ARM_PUBLIC_SCOPE: &str = "https://management.azure.com/.default";

/// Azure Resource Manager over one endpoint.
#[derive(Clone, Debug)]
pub struct ArmClient {
    rest: RestClient,
}

impl ArmClient {
    /// A client whose token scope follows the endpoint (see [`ArmClient::scope_for`]).
    pub fn new(
        endpoint: Url,
        credential: Arc<dyn TokenCredential>,
        settings: &ClientSettings,
    ) -> Self {
        let scope = Self::scope_for(&endpoint);
        Self::with_scope(endpoint, credential, &scope, settings)
    }

    pub fn with_scope(
        endpoint: Url,
        credential: Arc<dyn TokenCredential>,
        scope: &str,
        settings: &ClientSettings,
    ) -> Self {
        Self { rest: RestClient::new(endpoint, credential, scope, settings) }
    }

    /// `https://management.<cloud>/.default` for a sovereign-cloud endpoint
    /// (`management.usgovcloudapi.net`, `management.chinacloudapi.cn`); the public scope for
    /// anything else, including the simulator, whose local credential ignores scopes.
    pub fn scope_for(endpoint: &Url) -> String {
        match endpoint.host_str() {
            Some(host) if host.starts_with("management.") && endpoint.scheme() == "https" => {
                format!("https://{host}/.default")
            }
            _ => ARM_PUBLIC_SCOPE.to_owned(),
        }
    }

    pub fn endpoint(&self) -> &Url {
        self.rest.origin()
    }

    /// A copy whose requests all share `budget` (one executor action = one budget).
    pub fn scoped(&self, budget: WaitBudget) -> Self {
        Self { rest: self.rest.scoped(budget) }
    }

    /// A fresh budget of the configured total wait, starting now.
    pub fn new_budget(&self) -> WaitBudget {
        let total = self.rest.retry_policy().max_total_wait;
        WaitBudget::starting_now(self.rest.clock().as_ref(), total)
    }

    /// `<endpoint><id>?api-version=<v>`.
    pub fn resource_url(&self, id: &str, api_version: &str) -> Result<Url, ArmError> {
        let base = self.endpoint().as_str().trim_end_matches('/');
        let path = if id.starts_with('/') { id.to_owned() } else { format!("/{id}") };
        let input = format!("{base}{path}");
        let mut url =
            Url::parse(&input).map_err(|source| ArmError::InvalidUrl { input, source })?;
        url.query_pairs_mut().append_pair("api-version", api_version);
        Ok(url)
    }

    pub async fn get(&self, id: &str, api_version: &str) -> Result<ArmResponse, ArmError> {
        let url = self.resource_url(id, api_version)?;
        self.rest.send(Method::Get, url, None).await
    }

    /// Create or replace. The body is sent as JSON and never logged.
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
    ) -> Result<ArmResponse, ArmError> {
        let url = self.resource_url(id, api_version)?;
        self.rest.send(Method::Put, url, Some(body)).await
    }

    pub async fn delete(&self, id: &str, api_version: &str) -> Result<ArmResponse, ArmError> {
        let url = self.resource_url(id, api_version)?;
        self.rest.send(Method::Delete, url, None).await
    }

    /// An action such as `.../deletedVaults/{name}/purge`.
    pub async fn post(
        &self,
        id: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<ArmResponse, ArmError> {
        let url = self.resource_url(id, api_version)?;
        self.rest.send(Method::Post, url, body).await
    }

    /// GET an absolute URL from an `Azure-AsyncOperation` or `Location` header. It must be on
    /// this client's endpoint, else [`ArmError::ForeignUrl`].
    pub async fn get_url(&self, url: &str) -> Result<ArmResponse, ArmError> {
        let parsed = Url::parse(url)
            .map_err(|source| ArmError::InvalidUrl { input: url.to_owned(), source })?;
        self.rest.send(Method::Get, parsed, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::LocalTokenCredential;
    use crate::transport::TransportConfig;

    fn client(endpoint: &str) -> ArmClient {
        let settings = ClientSettings::new(&TransportConfig::default()).expect("settings");
        let endpoint = Url::parse(endpoint).expect("url");
        ArmClient::new(endpoint, Arc::new(LocalTokenCredential::new()), &settings)
    }

    #[test]
    fn scope_follows_sovereign_endpoints() {
        let url = |s: &str| Url::parse(s).expect("url");
        assert_eq!(ArmClient::scope_for(&url("https://management.azure.com")), ARM_PUBLIC_SCOPE);
        assert_eq!(
            ArmClient::scope_for(&url("https://management.usgovcloudapi.net/")),
            "https://management.usgovcloudapi.net/.default"
        );
        assert_eq!(ArmClient::scope_for(&url("https://127.0.0.1:8443/")), ARM_PUBLIC_SCOPE);
    }

    #[test]
    fn resource_urls_join_endpoint_id_and_api_version() {
        let arm = client("https://127.0.0.1:8443/");
        let url = arm.resource_url("/subscriptions/s/resourceGroups/rg", "2024-03-01");
        assert_eq!(
            url.expect("url").as_str(),
            "https://127.0.0.1:8443/subscriptions/s/resourceGroups/rg?api-version=2024-03-01"
        );
    }

    #[tokio::test]
    async fn polling_urls_on_another_host_are_refused_without_a_request() {
        let arm = client("https://127.0.0.1:8443/");
        let err = arm.get_url("https://evil.example/op/1").await.expect_err("foreign");
        assert!(matches!(err, ArmError::ForeignUrl { .. }), "{err:?}");
    }
}

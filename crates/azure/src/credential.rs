//! Credentials: a static local token for the simulator and Azurite, and the `azure_identity`
//! credentials for real Azure, built only when configuration asks for them.
//!
//! The split matters because `ManagedIdentityCredential` probes the instance metadata
//! endpoint (169.254.169.254) and `DeveloperToolsCredential` spawns the Azure CLI; neither
//! may ever run in a test or on a developer machine pointed at the simulator.

use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_identity::{
    DeveloperToolsCredential, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// Tenant id placed in local tokens; any GUID works for the emulators.
const LOCAL_TENANT: &str = "00000000-0000-0000-0000-000000000000";

/// How long a local token claims to be valid; far enough that no run ever refreshes it.
const LOCAL_TOKEN_LIFETIME: Duration = Duration::days(365);

/// Which credential to use. The default is [`CredentialConfig::Local`], so nothing reaches
/// for Azure unless configuration says so.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CredentialConfig {
    /// A fixed unsigned token; for the simulator and Azurite.
    #[default]
    Local,
    /// The managed identity of the Function App (system-assigned when `client_id` is `None`).
    ManagedIdentity { client_id: Option<String> },
    /// Azure CLI / Azure Developer CLI login, for operators running the CLI against Azure.
    DeveloperTools,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("cannot create the {kind} credential")]
    Create {
        kind: &'static str,
        #[source]
        source: azure_core::Error,
    },
}

impl CredentialConfig {
    /// Builds the configured credential. Only the Azure variants touch `azure_identity`.
    pub fn build(&self) -> Result<Arc<dyn TokenCredential>, CredentialError> {
        match self {
            Self::Local => Ok(Arc::new(LocalTokenCredential::new())),

            Self::ManagedIdentity { client_id } => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    ..Default::default()
                };
                let credential =
                    ManagedIdentityCredential::new(Some(options)).map_err(|source| {
                        CredentialError::Create { kind: "managed identity", source }
                    })?;
                Ok(credential)
            }

            Self::DeveloperTools => {
                let credential = DeveloperToolsCredential::new(None).map_err(|source| {
                    CredentialError::Create { kind: "developer tools", source }
                })?;
                Ok(credential)
            }
        }
    }
}

/// Returns an unsigned JWT for whatever scope is asked, without any network access.
///
/// The token is shaped like an Entra ID token (audience from the scope, `sts.windows.net`
/// issuer, `nbf`/`exp`) because Azurite checks those claims, though never the signature.
/// The simulator accepts any bearer token.
#[derive(Clone, Debug)]
pub struct LocalTokenCredential {
    tenant_id: String,
}

impl LocalTokenCredential {
    pub fn new() -> Self {
        Self { tenant_id: LOCAL_TENANT.to_owned() }
    }

    /// The token this credential hands out for `scope` at time `now`.
    pub fn token_for(&self, scope: &str, now: OffsetDateTime) -> AccessToken {
        let audience = scope.trim_end_matches("/.default");
        let expires_on = now + LOCAL_TOKEN_LIFETIME;
        let header = serde_json::json!({ "alg": "none", "typ": "JWT" });
        let claims = serde_json::json!({
            "aud": audience,
            "iss": format!("https://sts.windows.net/{}/", self.tenant_id),
            "tid": self.tenant_id,
            "sub": "polaris-local",
            "oid": "00000000-0000-0000-0000-00000000beef",
            "nbf": (now - Duration::minutes(5)).unix_timestamp(),
            "iat": now.unix_timestamp(),
            "exp": expires_on.unix_timestamp(),
        });
        let token = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        AccessToken::new(token, expires_on)
    }
}

impl Default for LocalTokenCredential {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait::async_trait]
impl TokenCredential for LocalTokenCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let scope = scopes.first().copied().unwrap_or("https://management.azure.com/.default");
        Ok(self.token_for(scope, OffsetDateTime::now_utc()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).expect("payload segment");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
    }

    #[tokio::test]
    async fn local_token_has_audience_from_scope_and_far_expiry() {
        let credential = LocalTokenCredential::new();
        let now = OffsetDateTime::now_utc();

        let token = credential.get_token(&["https://storage.azure.com/.default"], None).await;
        let token = token.expect("local tokens never fail");

        let claims = claims(token.token.secret());
        assert_eq!(claims["aud"], "https://storage.azure.com");
        assert_eq!(claims["iss"], format!("https://sts.windows.net/{LOCAL_TENANT}/"));
        assert!(token.expires_on > now + Duration::days(300));
        assert!(claims["nbf"].as_i64().expect("nbf") < now.unix_timestamp());
    }

    #[test]
    fn default_config_is_local_and_builds_without_network() {
        let config = CredentialConfig::default();
        assert_eq!(config, CredentialConfig::Local);
        let credential = config.build().expect("local credential");
        assert!(format!("{credential:?}").contains("LocalTokenCredential"));
    }

    #[test]
    fn config_deserializes_from_tagged_json() {
        let json = r#"{"kind":"managed_identity","client_id":"abc"}"#;
        let config: CredentialConfig = serde_json::from_str(json).expect("parse");
        assert_eq!(config, CredentialConfig::ManagedIdentity { client_id: Some("abc".into()) });
    }
}

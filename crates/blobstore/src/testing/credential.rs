//! The token Azurite's `--oauth basic` accepts: an unsigned JWT whose audience is
//! `https://storage.azure.com`, issuer `https://sts.windows.net/<tenant>/`, and whose
//! `nbf`/`exp` bracket now. Azurite checks those claims, not the signature.

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

#[derive(Debug)]
pub struct StorageTestCredential;

#[async_trait]
impl TokenCredential for StorageTestCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, ["https://storage.azure.com/.default"], "the store asks for Storage");

        let now = OffsetDateTime::now_utc();
        let expires_on = now + Duration::hours(1);
        let header = serde_json::json!({ "alg": "none", "typ": "JWT" });
        let claims = serde_json::json!({
            "aud": "https://storage.azure.com",
            "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/",
            "iat": (now - Duration::minutes(1)).unix_timestamp(),
            "nbf": (now - Duration::minutes(1)).unix_timestamp(),
            "exp": expires_on.unix_timestamp(),
            "oid": "00000000-0000-0000-0000-0000000000aa",
        });
        let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!("{}.{}.", encode(&header), encode(&claims));
        Ok(AccessToken::new(token, expires_on))
    }
}

//! A token credential for the fake: unsigned JWTs whose audience follows the scope asked
//! for, so the fake can check that the sender asked for the Service Bus audience.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::{Duration, OffsetDateTime};

/// Issues `{"aud": <scope without /.default>, ...}` tokens and records the scopes asked for.
#[derive(Debug, Default)]
pub struct FakeTokenCredential {
    audience: Option<String>,
    scopes: Mutex<Vec<String>>,
}

impl FakeTokenCredential {
    pub fn new() -> Self {
        Self::default()
    }

    /// Always issues tokens for `audience`, whatever the scope: a token for the wrong
    /// resource, which the fake answers with 401.
    pub fn with_audience(audience: &str) -> Self {
        Self { audience: Some(audience.to_owned()), scopes: Mutex::default() }
    }

    /// Every scope requested so far, in order.
    pub fn scopes_requested(&self) -> Vec<String> {
        self.scopes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl TokenCredential for FakeTokenCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut requested = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        requested.extend(scopes.iter().map(|s| (*s).to_owned()));
        drop(requested);

        let scope = scopes.first().copied().unwrap_or_default();
        let by_scope = || scope.trim_end_matches("/.default").to_owned();
        let audience = self.audience.clone().unwrap_or_else(by_scope);
        let expires_on = OffsetDateTime::now_utc() + Duration::hours(1);
        Ok(AccessToken::new(unsigned_jwt(&audience, expires_on), expires_on))
    }
}

/// A JWT with `alg: none` and no signature; the fake reads its claims and trusts them.
pub fn unsigned_jwt(audience: &str, expires_on: OffsetDateTime) -> String {
    let header = serde_json::json!({ "alg": "none", "typ": "JWT" });
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "aud": audience,
        "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000001/",
        "iat": now - 60,
        "nbf": now - 60,
        "exp": expires_on.unix_timestamp(),
        "oid": "00000000-0000-0000-0000-0000000000aa",
    });
    let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", encode(&header), encode(&claims))
}

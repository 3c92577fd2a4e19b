//! Who may call the API. In Azure the Functions host checks function keys before a request
//! reaches us; the embedded runtime has no host, so it checks a bearer token itself, and
//! may go without one only while nobody but this machine can reach it.

use std::net::SocketAddr;

use sha2::{Digest, Sha256};

/// How requests are authenticated.
#[derive(Clone)]
pub enum ApiAuth {
    /// The Functions host checked the function key already (`authLevel: function`).
    HostManaged,
    /// `Authorization: Bearer <token>` must match.
    Bearer(String),
    /// No check: only for a listener bound to loopback.
    LoopbackOnly,
}

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never print it.
        match self {
            Self::HostManaged => f.write_str("HostManaged"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::LoopbackOnly => f.write_str("LoopbackOnly"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error(
        "listening on {0} needs a bearer token (POLARIS_API_TOKEN); only loopback may go without"
    )]
    TokenRequired(SocketAddr),
    #[error("the bearer token must not be empty")]
    EmptyToken,
}

impl ApiAuth {
    /// The embedded runtime's rule: a token when configured, none only on loopback.
    pub fn for_listener(addr: SocketAddr, token: Option<String>) -> Result<Self, AuthConfigError> {
        match token {
            Some(token) if token.trim().is_empty() => Err(AuthConfigError::EmptyToken),
            Some(token) => Ok(Self::Bearer(token)),
            None if addr.ip().is_loopback() => Ok(Self::LoopbackOnly),
            None => Err(AuthConfigError::TokenRequired(addr)),
        }
    }

    /// Whether a request with this `Authorization` header value may proceed.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        match self {
            Self::HostManaged | Self::LoopbackOnly => true,
            Self::Bearer(expected) => {
                let Some(presented) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
                    return false;
                };
                // Comparing digests keeps the comparison time independent of where the
                // strings first differ.
                Sha256::digest(presented.trim().as_bytes()) == Sha256::digest(expected.as_bytes())
            }
        }
    }
}

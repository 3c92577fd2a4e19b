//! The HTTP transport under every Azure client: one `reqwest` client, handed to
//! `azure_core` as its `HttpClient`, with timeouts and (for the simulator) its own root CA.

use std::sync::Arc;
use std::time::Duration;

use azure_core::http::{ClientOptions, RetryOptions, Transport};

/// How to reach the endpoints: trust roots, timeouts and proxy use.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// PEM root certificate(s) to trust *instead of* the platform roots: the simulator's CA.
    /// `None` uses the platform verifier (real Azure).
    pub root_ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    /// Whole-request timeout. A write that times out after being sent has an unknown outcome,
    /// so this must stay well under the invocation budget.
    pub request_timeout: Duration,
    /// Honour `HTTPS_PROXY` & co. Off by default so a stray proxy variable can never route
    /// loopback traffic elsewhere.
    pub use_system_proxy: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            root_ca_pem: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            use_system_proxy: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the configured root CA is not valid PEM")]
    BadRootCa(#[source] reqwest::Error),
    #[error("the configured root CA PEM holds no certificate")]
    EmptyRootCa,
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

impl TransportConfig {
    /// Trusts only `root_ca_pem`: the shape used against the simulator.
    pub fn with_root_ca(root_ca_pem: impl Into<Vec<u8>>) -> Self {
        Self { root_ca_pem: Some(root_ca_pem.into()), ..Self::default() }
    }

    /// A `reqwest` client with these settings; redirects are never followed (ARM does not
    /// use them, and following one could carry a bearer token to another host).
    pub fn reqwest_client(&self) -> Result<reqwest::Client, TransportError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .redirect(reqwest::redirect::Policy::none());

        if !self.use_system_proxy {
            builder = builder.no_proxy();
        }

        if let Some(pem) = &self.root_ca_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(TransportError::BadRootCa)?;
            if certs.is_empty() {
                return Err(TransportError::EmptyRootCa);
            }
            builder = builder.tls_certs_only(certs);
        }

        builder.build().map_err(TransportError::Build)
    }

    /// The client wrapped as an `azure_core` transport.
    pub fn transport(&self) -> Result<Transport, TransportError> {
        Ok(Transport::new(Arc::new(self.reqwest_client()?)))
    }

    /// Client options for an `azure_core` pipeline: our transport and **no** pipeline
    /// retries. The default retry policy retries connection failures for minutes, which
    /// hides misconfiguration as a hang; this crate retries itself, with `Retry-After`
    /// and a wait budget (see [`crate::retry`]).
    pub fn client_options(&self) -> Result<ClientOptions, TransportError> {
        Ok(ClientOptions {
            transport: Some(self.transport()?),
            retry: RetryOptions::none(),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_root_ca_is_reported() {
        let config = TransportConfig::with_root_ca(b"not a certificate".to_vec());
        let err = config.reqwest_client().expect_err("garbage PEM must fail");
        assert!(
            matches!(err, TransportError::BadRootCa(_) | TransportError::EmptyRootCa),
            "unexpected error: {err:?}"
        );
    }

    #[test]
    fn default_config_builds() {
        let config = TransportConfig::default();
        assert!(config.client_options().is_ok());
    }
}

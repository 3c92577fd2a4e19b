//! The request/response core shared by the ARM and Key Vault clients: one `azure_core`
//! pipeline (bearer token, our transport, no pipeline retries), our retry loop around it,
//! and the conversion of every answer into [`ArmResponse`] or [`ArmError`].

use std::fmt;
use std::sync::Arc;

use azure_core::Bytes;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, RawResponse, Request,
    Transport, Url,
};
use serde_json::Value;
use tracing::debug;

use crate::clock::{Clock, TokioClock};
use crate::error::{ArmError, ServiceError, TransportFailure};
use crate::response::{ArmResponse, ResponseHeaders};
use crate::retry::{RetryPolicy, WaitBudget, with_retries};
use crate::transport::{TransportConfig, TransportError};

/// What every client built on this crate shares: the transport (one connection pool), the
/// retry bounds and the clock.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    pub transport: Transport,
    pub retry: RetryPolicy,
    pub clock: Arc<dyn Clock>,
}

impl ClientSettings {
    /// Real time, default retries, a transport built from `config`.
    pub fn new(config: &TransportConfig) -> Result<Self, TransportError> {
        Ok(Self {
            transport: config.transport()?,
            retry: RetryPolicy::default(),
            clock: Arc::new(TokioClock),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            transport: Some(self.transport.clone()),
            retry: azure_core::http::RetryOptions::none(),
            ..Default::default()
        }
    }
}

#[derive(Clone)]
pub(crate) struct RestClient {
    pipeline: Pipeline,
    /// Requests may only go to this origin (scheme, host, port).
    origin: Url,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    /// Set when the client is scoped to one invocation: all its requests share the budget.
    budget: Option<WaitBudget>,
}

impl fmt::Debug for RestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestClient")
            .field("origin", &self.origin.as_str())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl RestClient {
    pub fn new(
        origin: Url,
        credential: Arc<dyn TokenCredential>,
        scope: &str,
        settings: &ClientSettings,
    ) -> Self {
        let auth: Arc<dyn Policy> =
            Arc::new(BearerTokenAuthorizationPolicy::new(credential, [scope.to_owned()]));
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            settings.client_options(),
            vec![],
            vec![auth],
            None,
        );
        Self {
            pipeline,
            origin,
            retry: settings.retry.clone(),
            clock: Arc::clone(&settings.clock),
            budget: None,
        }
    }

    pub fn origin(&self) -> &Url {
        &self.origin
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// A copy whose requests all draw on `budget`.
    pub fn scoped(&self, budget: WaitBudget) -> Self {
        Self { budget: Some(budget), ..self.clone() }
    }

    /// Refuses URLs on another origin: polling URLs come from response headers, and we
    /// must neither send our token elsewhere nor leave loopback in tests.
    pub fn check_origin(&self, url: &Url) -> Result<(), ArmError> {
        let same = url.scheme() == self.origin.scheme()
            && url.host_str() == self.origin.host_str()
            && url.port_or_known_default() == self.origin.port_or_known_default();
        if same {
            Ok(())
        } else {
            Err(ArmError::ForeignUrl { url: url.to_string(), expected: self.origin.to_string() })
        }
    }

    /// Sends one logical request, retrying per the policy. Request bodies are never logged.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<ArmResponse, ArmError> {
        self.check_origin(&url)?;

        let body = body.map(|b| Bytes::from(b.to_string()));
        let budget = match &self.budget {
            Some(budget) => budget.clone(),
            None => WaitBudget::starting_now(self.clock.as_ref(), self.retry.max_total_wait),
        };
        let what = format!("{method} {}", url.path());

        with_retries(&self.retry, &self.clock, &budget, &what, || {
            self.send_once(method, url.clone(), body.clone())
        })
        .await
    }

    async fn send_once(
        &self,
        method: Method,
        url: Url,
        body: Option<Bytes>,
    ) -> Result<ArmResponse, ArmError> {
        let mut request = Request::new(url.clone(), method);
        request.insert_header("accept", "application/json");
        if let Some(body) = body {
            request.insert_header("content-type", "application/json");
            request.set_body(body);
        }

        let options = PipelineSendOptions { skip_checks: true, ..Default::default() };
        let sent = self.pipeline.send(&Context::new(), &mut request, Some(options)).await;
        let response = sent.map_err(|source| pipeline_error(method, &url, source))?;

        let status = u16::from(response.status());
        debug!(%method, path = url.path(), status, "azure answered");
        into_result(status, response)
    }
}

/// Turns an HTTP answer into a response or an error. The status decides first: a 429 is
/// `Throttled` before (and whether or not) its body parses (B14).
fn into_result(status: u16, response: RawResponse) -> Result<ArmResponse, ArmError> {
    let headers = ResponseHeaders::read(response.headers());
    let bytes = response.into_body();
    let bytes: &[u8] = bytes.as_ref();

    if !(200..300).contains(&status) {
        let mut error = Box::new(ServiceError::from_body(status, bytes));
        error.request_id = headers.request_id;
        error.retry_after_secs = headers.retry_after_secs;
        return Err(if status == 429 {
            ArmError::Throttled(error)
        } else {
            ArmError::Service(error)
        });
    }

    let body =
        if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let parsed = serde_json::from_slice(bytes).map_err(|source| {
                ArmError::InvalidBody { status, request_id: headers.request_id.clone(), source }
            })?;
            Some(parsed)
        };

    Ok(ArmResponse {
        status,
        body,
        request_id: headers.request_id,
        retry_after_secs: headers.retry_after_secs,
        async_operation_url: headers.async_operation_url,
        location_url: headers.location_url,
    })
}

fn pipeline_error(method: Method, url: &Url, source: azure_core::Error) -> ArmError {
    if matches!(source.kind(), ErrorKind::Credential) {
        return ArmError::Credential(Box::new(source));
    }

    let failure = transport_failure(&source);
    let write = !matches!(method, Method::Get | Method::Head);
    ArmError::Transport {
        method: method_name(method),
        url: url.path().to_owned(),
        failure,
        write,
        source: Box::new(source),
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Put => "PUT",
        Method::Post => "POST",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        _ => "OTHER",
    }
}

/// Looks through the error chain for what actually went wrong on the wire.
fn transport_failure(error: &azure_core::Error) -> TransportFailure {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(re) = e.downcast_ref::<reqwest::Error>() {
            if re.is_connect() {
                return TransportFailure::Connect;
            }
            if re.is_timeout() {
                return TransportFailure::Timeout;
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as Io;
            match io.kind() {
                Io::ConnectionRefused => return TransportFailure::Connect,
                Io::TimedOut => return TransportFailure::Timeout,
                _ => {}
            }
        }
        current = e.source();
    }

    match error.kind() {
        ErrorKind::Connection => TransportFailure::Connect,
        ErrorKind::Io => TransportFailure::Io,
        _ => TransportFailure::Other,
    }
}

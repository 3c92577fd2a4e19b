//! [`ServiceBusSender`]: the `MessageSender` port over `POST {endpoint}/{queue}/messages`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::policies::{Policy, auth::BearerTokenAuthorizationPolicy};
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, RawResponse, Request,
    RetryOptions, Url,
};
use backon::Retryable;
use polaris_core::ports::{MessageSender, OutboundMessage, SendError};
use time::OffsetDateTime;

use crate::broker::{BrokerProperties, MAX_MESSAGE_ID_LEN, http_date};
use crate::error::SenderError;
use crate::retry::{SendRetry, retry_after};

/// Token scope for Service Bus data-plane calls (audience `https://servicebus.azure.net`).
pub const SCOPE: &str = "https://servicebus.azure.net/.default";

/// How the sender talks: `client` carries the transport (and user agent, logging); its retry
/// policy is replaced by none, because `retry` here owns retries.
#[derive(Clone, Debug, Default)]
pub struct ServiceBusSenderOptions {
    pub client: ClientOptions,
    pub retry: SendRetry,
}

/// Sends to one queue (or topic). Cheap to clone behind an `Arc`; holds one pipeline.
#[derive(Debug)]
pub struct ServiceBusSender {
    url: Url,
    pipeline: Pipeline,
    retry: SendRetry,
}

impl ServiceBusSender {
    /// `endpoint` is `https://{namespace}.servicebus.windows.net`, or a loopback https URL in
    /// tests. It must be https: the bearer-token policy refuses to send a token otherwise.
    pub fn new(
        endpoint: Url,
        queue: &str,
        credential: Arc<dyn TokenCredential>,
        options: ServiceBusSenderOptions,
    ) -> Result<Self, SenderError> {
        let url = messages_url(&endpoint, queue)?;

        let mut client = options.client;
        client.retry = RetryOptions::none();
        let auth: Arc<dyn Policy> =
            Arc::new(BearerTokenAuthorizationPolicy::new(credential, [SCOPE]));
        let pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            client,
            Vec::new(),
            vec![auth],
            None,
        );

        Ok(Self { url, pipeline, retry: options.retry })
    }

    /// The URL messages are posted to, for logs and diagnostics.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn send_checked(&self, message: OutboundMessage) -> Result<(), SendError> {
        let header = broker_header(&message)?;
        let body = azure_core::Bytes::from(message.body);
        let attempts = AtomicUsize::new(0);
        let mut waited = Duration::ZERO;

        let attempt = || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(&header, body.clone()).await
        };
        let next_wait = |failure: &Failure, backoff: Option<Duration>| {
            self.retry.next_wait(failure.retry_after(), backoff, &mut waited)
        };
        let id = message.message_id.as_str();
        let outcome = attempt
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(Failure::is_retryable)
            .adjust(next_wait)
            .notify(|failure, wait| {
                tracing::warn!(url = %self.url, id, %failure, ?wait, "send will be retried");
            })
            .await;

        let attempts = attempts.load(Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                tracing::debug!(url = %self.url, id, attempts, "sent");
                Ok(())
            }
            Err(Failure::Final(err)) => Err(err),
            Err(Failure::Transient { reason, .. }) => {
                let url = &self.url;
                let message = format!("POST {url} gave up after {attempts} attempt(s): {reason}");
                Err(SendError::Unavailable { message })
            }
        }
    }

    async fn attempt(
        &self,
        broker_properties: &str,
        body: azure_core::Bytes,
    ) -> Result<(), Failure> {
        let mut request = Request::new(self.url.clone(), Method::Post);
        request.insert_header("content-type", "application/json");
        request.insert_header("brokerproperties", broker_properties.to_owned());
        request.set_body(body);

        let context = Context::new();
        let options = PipelineSendOptions { skip_checks: true, ..Default::default() };
        let sent = self.pipeline.send(&context, &mut request, Some(options));
        match tokio::time::timeout(self.retry.attempt_timeout, sent).await {
            Err(_) => Err(Failure::transient(format!(
                "no answer within {:?}",
                self.retry.attempt_timeout
            ))),
            Ok(Err(err)) => Err(Failure::from_transport(&err)),
            Ok(Ok(response)) => Failure::from_response(response).await,
        }
    }
}

#[async_trait]
impl MessageSender for ServiceBusSender {
    async fn send(&self, message: OutboundMessage) -> Result<(), SendError> {
        self.send_checked(message).await
    }
}

/// `{endpoint}/{queue}/messages`; a queue path with `/` (a topic's subscription path, say)
/// keeps its separators rather than being escaped into one segment.
fn messages_url(endpoint: &Url, queue: &str) -> Result<Url, SenderError> {
    let bad_endpoint = || SenderError::Endpoint { url: endpoint.to_string() };
    if endpoint.scheme() != "https" || endpoint.query().is_some() {
        return Err(bad_endpoint());
    }

    let segments: Vec<&str> = queue.split('/').collect();
    if segments.iter().any(|s| s.trim().is_empty() || *s == "." || *s == "..") {
        return Err(SenderError::Queue { name: queue.to_owned() });
    }

    let mut url = endpoint.clone();
    url.path_segments_mut()
        .map_err(|()| bad_endpoint())?
        .pop_if_empty()
        .extend(segments)
        .push("messages");
    Ok(url)
}

/// Local checks first (B18: never send an empty id), then the header value.
fn broker_header(message: &OutboundMessage) -> Result<String, SendError> {
    if message.message_id.trim().is_empty() {
        return Err(SendError::EmptyMessageId);
    }
    if message.message_id.chars().count() > MAX_MESSAGE_ID_LEN {
        return Err(SendError::Rejected {
            message: format!("MessageId is longer than {MAX_MESSAGE_ID_LEN} characters"),
        });
    }

    let props = BrokerProperties {
        message_id: &message.message_id,
        correlation_id: message.correlation_id.as_deref(),
        scheduled_enqueue_time_utc: message.scheduled_enqueue_time.map(http_date),
    };
    props.header_value().map_err(|err| SendError::Rejected {
        message: format!("cannot encode BrokerProperties: {err}"),
    })
}

/// One failed attempt: worth retrying (with the broker's advice), or final.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{reason}")]
    Transient { reason: String, retry_after: Option<Duration> },
    #[error(transparent)]
    Final(SendError),
}

impl Failure {
    fn transient(reason: String) -> Self {
        Self::Transient { reason, retry_after: None }
    }

    fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            Self::Final(_) => None,
        }
    }

    /// No HTTP answer. Connection and I/O failures are retried; a credential failure is not
    /// (the identity client retries its own endpoint), nor is anything else we cannot judge.
    fn from_transport(err: &azure_core::Error) -> Self {
        match err.kind() {
            ErrorKind::Connection | ErrorKind::Io => Self::transient(format!("connection: {err}")),
            ErrorKind::Credential => Self::Final(SendError::Unavailable {
                message: format!("cannot get a token for {SCOPE}: {err}"),
            }),
            _ => Self::Final(SendError::Unavailable { message: format!("send failed: {err}") }),
        }
    }

    /// 201 is success. 408, 429 and 5xx are transient; every other status is final.
    async fn from_response(response: RawResponse) -> Result<(), Self> {
        let status = u16::from(response.status());
        if status == 201 {
            return Ok(());
        }

        let advice = retry_after(response.headers(), OffsetDateTime::now_utc());
        let text = String::from_utf8_lossy(response.body()).trim().to_owned();
        let transient = status == 408 || status == 429 || (500..600).contains(&status);
        let reason = match advice {
            Some(wait) if transient => {
                format!("status {status} (Retry-After {} s): {text}", wait.as_secs())
            }
            _ => format!("status {status}: {text}"),
        };
        if transient {
            return Err(Self::Transient { reason, retry_after: advice });
        }
        Err(Self::Final(SendError::Rejected { message: reason }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> OutboundMessage {
        OutboundMessage {
            message_id: id.to_owned(),
            body: b"{}".to_vec(),
            scheduled_enqueue_time: None,
            correlation_id: None,
        }
    }

    #[test]
    fn messages_url_appends_queue_path_and_messages() {
        let ns = Url::parse("https://contoso-sb.servicebus.windows.net").unwrap();
        assert_eq!(
            messages_url(&ns, "orders").unwrap().as_str(),
            "https://contoso-sb.servicebus.windows.net/orders/messages"
        );

        let local = Url::parse("https://127.0.0.1:4443/").unwrap();
        assert_eq!(
            messages_url(&local, "topic/subscriptions/s1").unwrap().as_str(),
            "https://127.0.0.1:4443/topic/subscriptions/s1/messages"
        );
    }

    #[test]
    fn messages_url_refuses_http_and_bad_queue_names() {
        let http = Url::parse("http://127.0.0.1:4443").unwrap();
        assert!(matches!(messages_url(&http, "q"), Err(SenderError::Endpoint { .. })));

        let ns = Url::parse("https://ns.servicebus.windows.net").unwrap();
        for queue in ["", " ", "a//b", "../q", "q/"] {
            assert!(matches!(messages_url(&ns, queue), Err(SenderError::Queue { .. })), "{queue}");
        }
    }

    #[test]
    fn empty_and_oversized_ids_are_refused_before_any_io() {
        assert!(matches!(broker_header(&message("")), Err(SendError::EmptyMessageId)));
        assert!(matches!(broker_header(&message("  ")), Err(SendError::EmptyMessageId)));

        let long = "x".repeat(MAX_MESSAGE_ID_LEN + 1);
        assert!(matches!(broker_header(&message(&long)), Err(SendError::Rejected { .. })));
        assert!(broker_header(&message(&"x".repeat(MAX_MESSAGE_ID_LEN))).is_ok());
    }
}

//! A local HTTPS Service Bus that enforces the documented send contract, for tests here and
//! for end-to-end tests of the Functions handler (feature `test-fake`).
//!
//! It listens on `127.0.0.1` only, with a throwaway CA, and answers `POST /{queue}/messages`:
//! - method, path, `Authorization: Bearer <jwt>` with audience `https://servicebus.azure.net`,
//!   `BrokerProperties` as a JSON object with a non-empty `MessageId`, and an RFC 1123
//!   `ScheduledEnqueueTimeUtc` when present are all checked; a violation gets the status the
//!   broker documents (405/404/401/410/400) and a reason in the body and the attempt log;
//! - duplicate detection is on: a `MessageId` already accepted on that queue within the
//!   window is answered 201 and dropped, as the real broker does (B18);
//! - scripted replies ([`FakeServiceBus::push_reply`]) answer the next valid requests instead
//!   of 201, to simulate throttling or outages.
//!
//! Scheduled messages are recorded at once with their `scheduled_enqueue_time`; holding them
//! back is left to the test. Drain with [`FakeServiceBus::drain`] or
//! [`FakeServiceBus::wait_for`].

mod broker;
mod contract;
mod credential;
mod server;
mod tls;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use azure_core::http::{ClientOptions, Transport};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use url::Url;

use crate::{SendRetry, SenderError, ServiceBusSender, ServiceBusSenderOptions};
use broker::Broker;

pub use credential::{FakeTokenCredential, unsigned_jwt};

/// Why the fake could not start or hand out a client.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("cannot generate the fake's certificates")]
    Certificates(#[from] rcgen::Error),
    #[error("cannot configure TLS for the fake")]
    Tls(#[from] rustls::Error),
    #[error("cannot listen on 127.0.0.1")]
    Bind(#[from] std::io::Error),
    #[error("cannot build an HTTP client that trusts the fake")]
    Client(#[from] reqwest::Error),
    #[error("cannot build a sender for the fake")]
    Sender(#[from] SenderError),
}

/// A message the fake accepted and delivered to its queue.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMessage {
    pub queue: String,
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub scheduled_enqueue_time: Option<OffsetDateTime>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    /// The whole `BrokerProperties` object as sent.
    pub broker_properties: serde_json::Map<String, serde_json::Value>,
}

/// One request as the fake saw it, whatever it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub method: String,
    pub path: String,
    pub message_id: Option<String>,
    pub status: u16,
    /// Why it was refused (contract violation or scripted reply body).
    pub reason: Option<String>,
    /// Answered 201 but dropped by duplicate detection.
    pub duplicate: bool,
}

/// A canned answer for the next valid request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self { status, retry_after: None, body: String::new() }
    }

    /// 429 with `Retry-After: <retry_after>` (seconds or an HTTP-date).
    pub fn throttled(retry_after: &str) -> Self {
        Self {
            status: 429,
            retry_after: Some(retry_after.to_owned()),
            body: "The request was throttled.".to_owned(),
        }
    }
}

/// What the server task and the test handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    queues: Vec<String>,
    broker: Mutex<Broker>,
    arrived: Notify,
}

/// A running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeServiceBus {
    endpoint: Url,
    ca_pem: String,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl FakeServiceBus {
    /// Starts a fake with the given queues on a free port of 127.0.0.1.
    pub async fn start(queues: &[&str]) -> Result<Self, FakeError> {
        let pki = tls::generate()?;
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let port = listener.local_addr()?.port();

        let shared = Arc::new(Shared {
            queues: queues.iter().map(|q| (*q).to_owned()).collect(),
            broker: Mutex::default(),
            arrived: Notify::new(),
        });
        let server = server::spawn(listener, TlsAcceptor::from(pki.server), shared.clone());

        let endpoint = Url::parse(&format!("https://127.0.0.1:{port}"))
            .map_err(|err| std::io::Error::other(err.to_string()))?;
        tracing::debug!(%endpoint, ?queues, "fake Service Bus started");
        Ok(Self { endpoint, ca_pem: pki.ca_pem, shared, server })
    }

    /// `https://127.0.0.1:<port>`: the namespace endpoint to hand to the sender.
    pub fn endpoint(&self) -> Url {
        self.endpoint.clone()
    }

    /// The CA that signed the fake's certificate, for clients in other processes.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Client options whose transport trusts only the fake's CA.
    pub fn client_options(&self) -> Result<ClientOptions, FakeError> {
        let client = tls::client(&self.ca_pem)?;
        Ok(ClientOptions {
            transport: Some(Transport::new(Arc::new(client))),
            ..Default::default()
        })
    }

    /// A sender for `queue` with a [`FakeTokenCredential`] and short retry delays.
    pub fn sender(&self, queue: &str) -> Result<ServiceBusSender, FakeError> {
        let options = ServiceBusSenderOptions {
            client: self.client_options()?,
            retry: SendRetry {
                first_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                attempt_timeout: Duration::from_secs(10),
                ..SendRetry::default()
            },
        };
        let credential = Arc::new(FakeTokenCredential::new());
        Ok(ServiceBusSender::new(self.endpoint(), queue, credential, options)?)
    }

    /// Sets the duplicate-detection window (10 minutes by default, as in Service Bus).
    pub fn set_dedupe_window(&self, window: Duration) {
        self.broker().window = window;
    }

    /// Queues a canned answer for the next valid request (FIFO), instead of 201.
    pub fn push_reply(&self, reply: Reply) {
        self.broker().replies.push_back(reply);
    }

    /// Every request so far, in arrival order.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.broker().attempts.clone()
    }

    /// Removes and returns the messages delivered to `queue`.
    pub fn drain(&self, queue: &str) -> Vec<ReceivedMessage> {
        self.broker().drain(queue)
    }

    /// Waits until `queue` holds at least `count` messages or `timeout` passes, then drains
    /// it; the caller asserts on what it got.
    pub async fn wait_for(
        &self,
        queue: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<ReceivedMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();

            if self.broker().pending(queue) >= count {
                break;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                break;
            }
        }
        self.drain(queue)
    }

    fn broker(&self) -> std::sync::MutexGuard<'_, Broker> {
        self.shared.broker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeServiceBus {
    fn drop(&mut self) {
        self.server.abort();
    }
}

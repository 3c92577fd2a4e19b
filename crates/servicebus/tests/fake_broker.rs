//! The sender against the contract-enforcing fake broker: what goes on the wire, duplicate
//! detection (B18), retries with `Retry-After`, and final rejections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_core::ports::{MessageSender, OutboundMessage, SendError};
use polaris_servicebus::fake::{FakeServiceBus, FakeTokenCredential, Reply};
use polaris_servicebus::{SCOPE, SendRetry, ServiceBusSender, ServiceBusSenderOptions};
use time::macros::datetime;

const QUEUE: &str = "deployments";

fn message(id: &str) -> OutboundMessage {
    OutboundMessage {
        message_id: id.to_owned(),
        body: br#"{"deployment":"dep-1"}"#.to_vec(),
        scheduled_enqueue_time: None,
        correlation_id: Some("dep-1".to_owned()),
    }
}

fn sender_with(
    fake: &FakeServiceBus,
    queue: &str,
    credential: Arc<FakeTokenCredential>,
    retry: SendRetry,
) -> ServiceBusSender {
    let client = fake.client_options().expect("client");
    let options = ServiceBusSenderOptions { client, retry };
    ServiceBusSender::new(fake.endpoint(), queue, credential, options).expect("sender")
}

fn quick_retry() -> SendRetry {
    SendRetry {
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..SendRetry::default()
    }
}

#[tokio::test]
async fn a_send_carries_the_documented_request() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let credential = Arc::new(FakeTokenCredential::new());
    let sender = sender_with(&fake, QUEUE, credential.clone(), quick_retry());

    let mut outbound = message("dep-1:step-vnet:attempt-1");
    outbound.scheduled_enqueue_time = Some(datetime!(2030-11-06 10:30:00.250 UTC));
    sender.send(outbound).await.expect("send");

    let received = fake.drain(QUEUE);
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.message_id, "dep-1:step-vnet:attempt-1");
    assert_eq!(got.correlation_id.as_deref(), Some("dep-1"));
    assert_eq!(got.scheduled_enqueue_time, Some(datetime!(2030-11-06 10:30:01 UTC)));
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body, br#"{"deployment":"dep-1"}"#);
    let mut keys: Vec<&str> = got.broker_properties.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["CorrelationId", "MessageId", "ScheduledEnqueueTimeUtc"]);
    assert_eq!(got.broker_properties["ScheduledEnqueueTimeUtc"], "Wed, 06 Nov 2030 10:30:01 GMT");

    assert_eq!(credential.scopes_requested(), [SCOPE]);
    let attempts = fake.attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].path.as_str(), attempts[0].status), ("/deployments/messages", 201));
}

#[tokio::test]
async fn absent_properties_are_not_sent() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");

    let mut outbound = message("plain");
    outbound.correlation_id = None;
    sender.send(outbound).await.expect("send");

    let got = fake.drain(QUEUE).pop().expect("delivered");
    assert_eq!(got.broker_properties.len(), 1, "{:?}", got.broker_properties);
    assert_eq!((got.correlation_id, got.scheduled_enqueue_time), (None, None));
}

#[tokio::test]
async fn duplicate_detection_absorbs_a_resent_request_but_not_continuations() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");

    sender.send(message("request:dep-1")).await.expect("first");
    sender.send(message("request:dep-1")).await.expect("a duplicate is still a 201");
    sender.send(message("dep-1:step-vnet:attempt-1")).await.expect("continuation 1");
    sender.send(message("dep-1:step-vnet:attempt-2")).await.expect("continuation 2");

    let ids: Vec<String> = fake.drain(QUEUE).into_iter().map(|m| m.message_id).collect();
    assert_eq!(ids, ["request:dep-1", "dep-1:step-vnet:attempt-1", "dep-1:step-vnet:attempt-2"]);
    let duplicates: Vec<bool> = fake.attempts().iter().map(|a| a.duplicate).collect();
    assert_eq!(duplicates, [false, true, false, false]);
}

#[tokio::test]
async fn an_empty_message_id_is_refused_before_any_request() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");

    for id in ["", "   "] {
        let result = sender.send(message(id)).await;
        assert!(matches!(result, Err(SendError::EmptyMessageId)), "{id:?}: {result:?}");
    }
    assert!(fake.attempts().is_empty());
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_once_after_waiting() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");
    fake.push_reply(Reply::throttled("1"));

    let started = Instant::now();
    sender.send(message("m-1")).await.expect("send after one retry");

    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    let statuses: Vec<u16> = fake.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [429, 201]);
    assert_eq!(fake.drain(QUEUE).len(), 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_ends_the_send_at_once() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");
    fake.push_reply(Reply::throttled("900"));

    let started = Instant::now();
    let result = sender.send(message("m-1")).await;

    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    let Err(SendError::Unavailable { message }) = result else { panic!("{result:?}") };
    assert!(message.contains("status 429 (Retry-After 900 s)"), "{message}");
    assert_eq!(fake.attempts().len(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_attempt_limit() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");
    for _ in 0..10 {
        fake.push_reply(Reply::status(503));
    }

    let result = sender.send(message("m-1")).await;

    let Err(SendError::Unavailable { message }) = result else { panic!("{result:?}") };
    assert!(message.contains("after 4 attempt(s)") && message.contains("503"), "{message}");
    assert_eq!(fake.attempts().len(), SendRetry::default().max_attempts);
    assert!(fake.drain(QUEUE).is_empty());
}

#[tokio::test]
async fn a_500_then_success_delivers_once() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");
    fake.push_reply(Reply::status(500));

    sender.send(message("m-1")).await.expect("send");
    let statuses: Vec<u16> = fake.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [500, 201]);
}

#[tokio::test]
async fn a_token_for_another_audience_is_rejected_with_401_without_retry() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let storage = Arc::new(FakeTokenCredential::with_audience("https://storage.azure.com"));
    let sender = sender_with(&fake, QUEUE, storage, quick_retry());

    let result = sender.send(message("m-1")).await;

    let Err(SendError::Rejected { message }) = result else { panic!("{result:?}") };
    assert!(message.contains("401") && message.contains("audience"), "{message}");
    assert_eq!(fake.attempts().len(), 1);
}

#[tokio::test]
async fn client_errors_are_rejected_with_status_and_text() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let missing = fake.sender("no-such-queue").expect("sender");
    let result = missing.send(message("m-1")).await;
    let Err(SendError::Rejected { message: text }) = result else { panic!("{result:?}") };
    assert!(text.contains("410") && text.contains("does not exist"), "{text}");

    let sender = fake.sender(QUEUE).expect("sender");
    for status in [400, 403] {
        fake.push_reply(Reply { status, retry_after: None, body: "quota exceeded".to_owned() });
        let result = sender.send(message("m-2")).await;
        let Err(SendError::Rejected { message: text }) = result else { panic!("{result:?}") };
        assert_eq!(text, format!("status {status}: quota exceeded"));
    }
    assert_eq!(fake.attempts().len(), 3, "client errors are not retried");
}

#[tokio::test]
async fn connection_failures_are_retried_then_unavailable() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut endpoint = fake.endpoint();
    endpoint.set_port(Some(closed)).expect("port");
    let options = ServiceBusSenderOptions {
        client: fake.client_options().expect("client"),
        retry: quick_retry(),
    };
    let credential = Arc::new(FakeTokenCredential::new());
    let nowhere = ServiceBusSender::new(endpoint, QUEUE, credential, options).expect("sender");
    drop(sender);

    let result = nowhere.send(message("m-1")).await;
    let Err(SendError::Unavailable { message }) = result else { panic!("{result:?}") };
    assert!(message.contains("after 4 attempt(s)") && message.contains("connection"), "{message}");
}

#[tokio::test]
async fn wait_for_returns_messages_sent_meanwhile() {
    let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
    let sender = fake.sender(QUEUE).expect("sender");

    let sending = tokio::spawn(async move {
        for id in ["a", "b"] {
            tokio::time::sleep(Duration::from_millis(50)).await;
            sender.send(message(id)).await.expect("send");
        }
    });
    let got = fake.wait_for(QUEUE, 2, Duration::from_secs(10)).await;
    sending.await.expect("sender task");

    let ids: Vec<String> = got.into_iter().map(|m| m.message_id).collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(fake.wait_for(QUEUE, 1, Duration::from_millis(100)).await.is_empty());
}

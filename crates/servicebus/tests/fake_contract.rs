//! The fake refuses requests that break the documented send contract, so a sender bug
//! cannot pass against it. Raw requests, not our sender.

use polaris_servicebus::fake::{FakeServiceBus, unsigned_jwt};
use time::{Duration, OffsetDateTime};

const QUEUE: &str = "deployments";

struct Raw {
    fake: FakeServiceBus,
    client: reqwest::Client,
}

impl Raw {
    async fn start() -> Self {
        let fake = FakeServiceBus::start(&[QUEUE]).await.expect("fake");
        let ca = reqwest::Certificate::from_pem(fake.ca_pem().as_bytes()).expect("CA");
        let client = reqwest::Client::builder().tls_certs_only([ca]).no_proxy().build();
        Self { fake, client: client.expect("client") }
    }

    fn token(audience: &str, expires_in: Duration) -> String {
        format!("Bearer {}", unsigned_jwt(audience, OffsetDateTime::now_utc() + expires_in))
    }

    /// POSTs to `path` with the given headers; returns the status and body.
    async fn post(&self, path: &str, headers: &[(&str, String)]) -> (u16, String) {
        let url = self.fake.endpoint().join(path).expect("url");
        let mut request = self.client.post(url).body("{}");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("the fake answers");
        (response.status().as_u16(), response.text().await.expect("body"))
    }
}

fn good_auth() -> (&'static str, String) {
    ("authorization", Raw::token("https://servicebus.azure.net", Duration::hours(1)))
}

fn props(json: &str) -> (&'static str, String) {
    ("brokerproperties", json.to_owned())
}

#[tokio::test]
async fn a_well_formed_request_is_accepted() {
    let raw = Raw::start().await;
    let headers = [good_auth(), props(r#"{"MessageId":"m-1"}"#)];
    assert_eq!(raw.post("/deployments/messages", &headers).await.0, 201);
    assert_eq!(raw.fake.drain(QUEUE).len(), 1);
}

#[tokio::test]
async fn authorization_must_be_a_live_service_bus_bearer_token() {
    let raw = Raw::start().await;
    let message = props(r#"{"MessageId":"m-1"}"#);
    let storage = Raw::token("https://storage.azure.com", Duration::hours(1));
    let expired = Raw::token("https://servicebus.azure.net", Duration::minutes(-5));
    let cases = [
        None,
        Some("SharedAccessSignature sr=x&sig=y".to_owned()),
        Some("Bearer not-a-jwt".to_owned()),
        Some(storage),
        Some(expired),
    ];

    for auth in cases {
        let mut headers = vec![message.clone()];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.clone()));
        }
        let (status, text) = raw.post("/deployments/messages", &headers).await;
        assert_eq!(status, 401, "{auth:?}: {text}");
    }
    assert!(raw.fake.drain(QUEUE).is_empty());
}

#[tokio::test]
async fn broker_properties_must_be_json_with_a_message_id_and_http_dates() {
    let raw = Raw::start().await;
    let cases = [
        r#"not json"#,
        r#"["MessageId"]"#,
        r#"{"CorrelationId":"c"}"#,
        r#"{"MessageId":""}"#,
        r#"{"MessageId":42}"#,
        r#"{"MessageId":"m","ScheduledEnqueueTimeUtc":"2024-11-06T10:30:00Z"}"#,
    ];

    for json in cases {
        let (status, text) = raw.post("/deployments/messages", &[good_auth(), props(json)]).await;
        assert_eq!(status, 400, "{json}: {text}");
    }
    let (status, _) = raw.post("/deployments/messages", &[good_auth()]).await;
    assert_eq!(status, 400, "BrokerProperties missing");

    let dated =
        props(r#"{"MessageId":"m","ScheduledEnqueueTimeUtc":"Wed, 06 Nov 2024 10:30:00 GMT"}"#);
    assert_eq!(raw.post("/deployments/messages", &[good_auth(), dated]).await.0, 201);
}

#[tokio::test]
async fn method_path_and_entity_are_checked() {
    let raw = Raw::start().await;
    let message = props(r#"{"MessageId":"m-1"}"#);
    let headers = [good_auth(), message];

    assert_eq!(raw.post("/deployments", &headers).await.0, 404);
    assert_eq!(raw.post("/deployments/messages/head", &headers).await.0, 404);
    assert_eq!(raw.post("/unknown/messages", &headers).await.0, 410);

    let url = raw.fake.endpoint().join("/deployments/messages").expect("url");
    let get = raw.client.get(url).send().await.expect("answer");
    assert_eq!(get.status().as_u16(), 405);

    let statuses: Vec<u16> = raw.fake.attempts().iter().map(|a| a.status).collect();
    assert_eq!(statuses, [404, 404, 410, 405]);
}

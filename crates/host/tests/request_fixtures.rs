//! Every invocation request fixture the host can send, parsed with the typed triggers.

mod support;

use polaris_host::{
    BodyPayload, EventGridTrigger, EventSchema, HttpRequestData, InvocationRequest,
    ServiceBusTrigger, TimerTrigger, decode_layers,
};
use serde_json::{Value, json};
use time::macros::datetime;

use support::{files_with_extension, fixture_json, fixtures, read_text, split_http};

const REQUESTS: &str = "functions/requests";

fn envelope(name: &str) -> InvocationRequest {
    let value = fixture_json(&format!("{REQUESTS}/{name}"));
    InvocationRequest::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Asserts what one fixture file must parse to.
type Check = fn(&str);

/// Each JSON request fixture paired with the check that parses it, so a fixture added later
/// fails this test until someone decides how it should parse.
#[test]
fn every_json_request_fixture_parses() {
    let checks: &[(&str, Check)] = &[
        ("eventgrid-cloudevent.KarlGW-azfunc.request.json", cloud_event_request),
        ("eventgrid-eventgridschema.KarlGW-azfunc.request.json", event_grid_request),
        ("generic-queue.host-unit-test.assembled.request.json", generic_queue_request),
        ("http-nonforwarding.KarlGW-azfunc.request.json", http_request),
        ("http-nonforwarding.retry-context.assembled.request.json", retry_request),
        ("invocation-request-headers.captured-host-4.24.4.4.json", captured_headers),
        ("servicebus-queue.KarlGW-azfunc.request.json", servicebus_karlgw),
        ("servicebus-queue.json-body.assembled-from-host-code.request.json", servicebus_json),
        ("servicebus-queue.text-body.assembled-from-host-code.request.json", servicebus_text),
        ("storage-queue.KarlGW-azfunc.request.json", storage_queue_current),
        ("storage-queue.docs-functions-custom-handlers.request.json", storage_queue_docs),
        ("timer.KarlGW-azfunc.request.json", timer_with_status),
        ("timer.captured-host-4.24.4.4.request.json", timer_with_null_status),
        ("timer.docs-functions-bindings-timer.timer-object.json", timer_object),
    ];

    let on_disk = files_with_extension(&fixtures().join(REQUESTS), ".json");
    let covered: Vec<String> = checks.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(on_disk, covered, "request fixtures without a parsing check");

    for (name, check) in checks {
        check(name);
    }
}

fn cloud_event_request(name: &str) {
    let event = EventGridTrigger::from_invocation(&envelope(name), "event").unwrap().event;

    assert_eq!(event.kind, EventSchema::CloudEvents);
    assert_eq!(event.id, "4e773554-f6b7-4ea2-b07d-4c5fd5aba741");
    assert_eq!(event.event_type, "created");
    assert_eq!(event.source.as_deref(), Some("topic"));
    assert_eq!(event.time, Some(datetime!(2023-10-12 20:13:49.640002 UTC)));
    assert_eq!(event.data["name"], "test");
}

fn event_grid_request(name: &str) {
    let event = EventGridTrigger::from_invocation(&envelope(name), "event").unwrap().event;

    assert_eq!(event.kind, EventSchema::EventGridSchema);
    assert_eq!(event.event_type, "created");
    assert_eq!(event.subject.as_deref(), Some("subject"));
    assert_eq!(event.source.as_deref(), Some("topic"));
    assert_eq!(event.data["id"], "4e773554-f6b7-4ea2-b07d-4c5fd5aba741");
}

fn generic_queue_request(name: &str) {
    let request = envelope(name);

    assert_eq!(decode_layers(request.binding("myqueueItem").unwrap().clone()), "HelloWorld");
    assert_eq!(request.metadata_text("dequeueCount").as_deref(), Some("4"));
    assert_eq!(request.metadata_text("helloString").as_deref(), Some("helloMetadata"));
    let visible = request.metadata_text("VisibleTime").unwrap();
    let with_offset = request.metadata_text("VisibleTimeOffset").unwrap();
    assert_eq!(polaris_host::parse_timestamp(&visible), Some(datetime!(2019-10-01 0:00 UTC)));
    assert_eq!(
        polaris_host::parse_timestamp(&visible),
        polaris_host::parse_timestamp(&with_offset)
    );
}

fn http_request(name: &str) {
    let request = envelope(name);
    let req = HttpRequestData::from_invocation(&request, "req").unwrap();

    assert_eq!(req.url, "http://localhost:7071/api/endpoint");
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.body_json(), Some(json!({"message": "hello", "number": 2})));
    assert!(req.query.is_empty());
    assert_eq!(request.method_name().as_deref(), Some("helloHTTP"));
}

fn retry_request(name: &str) {
    let request = envelope(name);
    let req = HttpRequestData::from_invocation(&request, "req").unwrap();
    let retry = request.retry_context().expect("retry context");

    assert_eq!(req.method, "GET");
    assert_eq!(req.body, None);
    assert_eq!(req.header("host"), Some("localhost:7071"));
    assert_eq!((retry.retry_count, retry.max_retry_count), (1, 2));
}

/// Not an envelope: the headers of every invocation. The host sends the body chunked.
fn captured_headers(name: &str) {
    let headers = fixture_json(&format!("{REQUESTS}/{name}"));

    assert_eq!(headers["transfer-encoding"], "chunked");
    assert!(headers.get("content-length").is_none());
    assert!(headers["content-type"].as_str().unwrap().starts_with("application/json"));
}

fn servicebus_karlgw(name: &str) {
    let message = ServiceBusTrigger::from_invocation(&envelope(name), "queue").unwrap();

    assert_eq!(message.body, BodyPayload::Json(json!({"message": "hello", "number": 2})));
    assert_eq!(message.message_id.as_deref(), Some("4e773554-f6b7-4ea2-b07d-4c5fd5aba741"));
    assert_eq!(message.content_type.as_deref(), Some("application/json"));
    assert_eq!(message.delivery_count, 1);
    assert_eq!(message.sequence_number, Some(1));
    assert_eq!(message.enqueued_time_utc, Some(datetime!(2023-10-12 20:13:49 UTC)));
    assert_eq!(message.expires_at_utc, Some(datetime!(2023-10-12 20:13:49 UTC)));
}

fn servicebus_json(name: &str) {
    let message = ServiceBusTrigger::from_invocation(&envelope(name), "mySbMsg").unwrap();
    let body = json!({"orderId": "A-1001", "amount": 12.5, "lines": [1, 2]});

    assert_eq!(message.body, BodyPayload::Json(body));
    assert_eq!(message.message_id.as_deref(), Some("order-A-1001"));
    assert_eq!(message.correlation_id.as_deref(), Some("corr-7"));
    assert_eq!(message.subject.as_deref(), Some("order-created"));
    assert_eq!(message.sequence_number, Some(42));
    assert_eq!(message.application_properties["tenant"], "contoso");
    assert_eq!(message.application_properties["attempt"], 1);
    assert_eq!(message.enqueued_time_utc, Some(datetime!(2024-11-06 10:15:30 UTC)));
    assert_eq!(message.expires_at_utc, Some(datetime!(2024-11-20 10:15:30 UTC)));
}

fn servicebus_text(name: &str) {
    let message = ServiceBusTrigger::from_invocation(&envelope(name), "mySbMsg").unwrap();

    assert_eq!(message.body, BodyPayload::Text("hello from the sender".into()));
    assert_eq!(message.delivery_count, 3);
    assert_eq!(message.correlation_id, None);
    assert_eq!(message.content_type, None);
    assert!(message.application_properties.is_empty());
}

fn storage_queue_current(name: &str) {
    let request = envelope(name);

    let body = decode_layers(request.binding("queue").unwrap().clone());
    assert_eq!(body, json!({"message": "hello", "number": 2}));
    assert_eq!(request.metadata_text("DequeueCount").as_deref(), Some("1"));
    assert_eq!(
        request.metadata_text("Id").as_deref(),
        Some("4e773554-f6b7-4ea2-b07d-4c5fd5aba741")
    );
}

/// The docs' pre-2020 payload: numbers unquoted and a body that is not strict JSON.
fn storage_queue_docs(name: &str) {
    let request = envelope(name);

    let body = decode_layers(request.binding("myQueueItem").unwrap().clone());
    assert_eq!(body, json!("{ message: \"Message sent\" }"));
    assert_eq!(request.metadata_text("DequeueCount").as_deref(), Some("1"));
    assert_eq!(
        request.metadata_text("Id").as_deref(),
        Some("800ae4b3-bdd2-4c08-badd-f08e5a34b865")
    );
}

fn timer_with_status(name: &str) {
    let timer = TimerTrigger::from_invocation(&envelope(name), "timer").unwrap();
    let status = timer.schedule_status.expect("status");

    assert!(!timer.is_past_due);
    assert!(timer.adjust_for_dst);
    assert_eq!(status.next, Some(datetime!(2023-10-12 20:13:49.640002 UTC)));
}

fn timer_with_null_status(name: &str) {
    let request = envelope(name);
    let timer = TimerTrigger::from_invocation(&request, "timer").unwrap();

    assert_eq!(timer.schedule_status, None);
    assert!(!timer.is_past_due);
    assert_eq!(request.method_name().as_deref(), Some("azure"));
}

/// Not an envelope: the documented `Data.<timer>` object on its own.
fn timer_object(name: &str) {
    let timer = TimerTrigger::from_value(&fixture_json(&format!("{REQUESTS}/{name}"))).unwrap();
    let status = timer.schedule_status.expect("status");

    assert_eq!(status.last, Some(datetime!(2016-10-04 10:15 UTC)));
    assert_eq!(status.last_updated, Some(datetime!(2016-10-04 10:16 UTC)));
    assert_eq!(status.next, Some(datetime!(2016-10-04 10:20 UTC)));
}

/// The docs' HTTP payload still shows the pre-2020 `"Query": "{}"` string.
#[test]
fn docs_http_payload_with_legacy_query_string_parses() {
    let path = fixtures()
        .join(REQUESTS)
        .join("http-nonforwarding.docs-functions-custom-handlers.request.http");
    let (head, body) = split_http(&read_text(&path));
    let request = InvocationRequest::from_slice(body.as_bytes()).unwrap();
    let req = HttpRequestData::from_invocation(&request, "req").unwrap();

    assert!(head[0].starts_with("POST "));
    assert_eq!(req.url, "http://localhost:7071/api/order");
    assert!(req.query.is_empty());
    assert_eq!(req.body_json(), Some(json!({"id": 1005, "quantity": 2, "color": "black"})));
}

/// B21: a body that arrives single-encoded (KarlGW capture) and double-encoded (current
/// host code) must give the same value.
#[test]
fn both_service_bus_encodings_give_equal_bodies() {
    for (name, binding) in [
        ("servicebus-queue.KarlGW-azfunc.request.json", "queue"),
        ("servicebus-queue.json-body.assembled-from-host-code.request.json", "mySbMsg"),
        ("servicebus-queue.text-body.assembled-from-host-code.request.json", "mySbMsg"),
    ] {
        let original = envelope(name);
        let raw = original.binding(binding).unwrap().clone();
        let wrapped = Value::String(raw.to_string());
        let unwrapped = match serde_json::from_str::<Value>(raw.as_str().unwrap()) {
            Ok(inner @ Value::String(_)) => inner,
            _ => raw.clone(),
        };

        let bodies: Vec<BodyPayload> = [raw, wrapped, unwrapped]
            .into_iter()
            .map(|body| {
                let mut request = original.clone();
                request.data.insert(binding.to_owned(), body);
                ServiceBusTrigger::from_invocation(&request, binding).unwrap().body
            })
            .collect();
        assert_eq!(bodies[0], bodies[1], "{name}: one more layer changed the body");
        assert_eq!(bodies[0], bodies[2], "{name}: one layer less changed the body");
    }
}

/// B21: an unreadable timestamp becomes `None` and the message still parses.
#[test]
fn unknown_timestamp_is_none_and_the_message_survives() {
    let mut request = envelope("servicebus-queue.json-body.assembled-from-host-code.request.json");
    for key in ["EnqueuedTimeUtc", "EnqueuedTime", "ExpiresAtUtc"] {
        request.metadata.insert(key.to_owned(), json!("the 5th of November"));
    }

    let message = ServiceBusTrigger::from_invocation(&request, "mySbMsg").unwrap();

    assert_eq!(message.enqueued_time_utc, None);
    assert_eq!(message.expires_at_utc, Some(datetime!(2024-11-20 10:15:30 UTC)));
    assert_eq!(message.message_id.as_deref(), Some("order-A-1001"));
}

/// B21: the cardinality `one` fixtures carry `DateTime` and `DateTimeOffset` forms of the same
/// instant. No cardinality `many` capture exists in shared/fixtures; the batch path and older
/// extensions wrote seven-digit `Z` or `+00:00` forms (azure-sdk-for-net#21687) and the .NET
/// `M/d/yyyy h:mm:ss tt` form (azure-functions-host#6997), so those strings are tested inline.
#[test]
fn timestamps_from_both_cardinality_shapes_parse() {
    let request = envelope("servicebus-queue.json-body.assembled-from-host-code.request.json");
    let utc = request.metadata_text("EnqueuedTimeUtc").unwrap();
    let offset = request.metadata_text("EnqueuedTime").unwrap();
    let one = polaris_host::parse_timestamp(&utc);
    assert_eq!(one, Some(datetime!(2024-11-06 10:15:30 UTC)));
    assert_eq!(one, polaris_host::parse_timestamp(&offset));

    for many in [
        "2024-11-06T10:15:30.0000000Z",
        "2024-11-06T10:15:30.0000000+00:00",
        "11/6/2024 10:15:30 AM",
    ] {
        let mut batch = request.clone();
        batch.metadata.insert("EnqueuedTimeUtc".into(), json!(many));
        batch.metadata.remove("EnqueuedTime");
        let message = ServiceBusTrigger::from_invocation(&batch, "mySbMsg").unwrap();
        assert_eq!(message.enqueued_time_utc, one, "{many}");
    }
}

/// B21: a body behind the old .NET serializer preamble is refused for dead-lettering.
#[test]
fn preamble_body_is_unsupported_encoding() {
    let mut request = envelope("servicebus-queue.json-body.assembled-from-host-code.request.json");
    let json_body = "{\"orderId\":\"A-1001\"}";
    let namespace = "http://schemas.microsoft.com/2003/10/Serialization/";
    let preamble = format!("@\u{6}string\u{8}3{namespace}\u{9a}\u{14}{json_body}\u{1}");
    request.data.insert("mySbMsg".into(), Value::String(Value::String(preamble).to_string()));

    let error = ServiceBusTrigger::from_invocation(&request, "mySbMsg").unwrap_err();

    assert!(matches!(error, polaris_host::HostError::UnsupportedEncoding { .. }));
}

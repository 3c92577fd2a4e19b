//! Event Grid deliveries in both schemas, and the webhook handshakes.

mod support;

use polaris_host::{
    DEFAULT_ALLOWED_ORIGINS, EventGridTrigger, EventSchema, IncomingEvent, InvocationRequest,
    abuse_protection_response, validation_response,
};
use serde_json::{Value, json};
use time::macros::datetime;

use support::{files_with_extension, fixture_json, fixtures, read_text, split_http};

/// (file, schema, id, event type) for every sample event.
const SAMPLES: &[(&str, EventSchema, &str, &str)] = &[
    (
        "cloudevents/blob-created.json",
        EventSchema::CloudEvents,
        "9aeb0fdf-c01e-0131-0922-9eb54906e209",
        "Microsoft.Storage.BlobCreated",
    ),
    (
        "cloudevents/custom-event.cloudevents-spec-json-format.json",
        EventSchema::CloudEvents,
        "C234-1234-1234",
        "com.example.someevent",
    ),
    (
        "cloudevents/resource-delete-success.json",
        EventSchema::CloudEvents,
        "19a69642-1aad-4a96-a5ab-8d05494513ce",
        "Microsoft.Resources.ResourceDeleteSuccess",
    ),
    (
        "cloudevents/resource-write-success.json",
        EventSchema::CloudEvents,
        "4db48cba-50a2-455a-93b4-de41a3b5b7f6",
        "Microsoft.Resources.ResourceWriteSuccess",
    ),
    (
        "eventgridschema/blob-created.json",
        EventSchema::EventGridSchema,
        "831e1650-001e-001b-66ab-eeb76e069631",
        "Microsoft.Storage.BlobCreated",
    ),
    (
        "eventgridschema/blob-deleted.json",
        EventSchema::EventGridSchema,
        "4c2359fe-001e-00ba-0e04-58586806d298",
        "Microsoft.Storage.BlobDeleted",
    ),
    (
        "eventgridschema/custom-event.recordInserted.json",
        EventSchema::EventGridSchema,
        "b68529f3-68cd-4744-baa4-3c0498ec19e2",
        "recordInserted",
    ),
    (
        "eventgridschema/resource-delete-success.json",
        EventSchema::EventGridSchema,
        "19a69642-1aad-4a96-a5ab-8d05494513ce",
        "Microsoft.Resources.ResourceDeleteSuccess",
    ),
    (
        "eventgridschema/resource-write-success.json",
        EventSchema::EventGridSchema,
        "4db48cba-50a2-455a-93b4-de41a3b5b7f6",
        "Microsoft.Resources.ResourceWriteSuccess",
    ),
    (
        "eventgridschema/subscription-validation.request.json",
        EventSchema::EventGridSchema,
        "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "Microsoft.EventGrid.SubscriptionValidationEvent",
    ),
];

#[test]
fn every_sample_event_is_covered() {
    let mut on_disk = Vec::new();
    for dir in ["cloudevents", "eventgridschema"] {
        let names = files_with_extension(&fixtures().join("eventgrid").join(dir), ".json");
        on_disk.extend(names.into_iter().map(|name| format!("{dir}/{name}")));
    }
    let listed: Vec<&str> = SAMPLES.iter().map(|(file, ..)| *file).collect();

    assert_eq!(on_disk, listed);
}

#[test]
fn webhook_bodies_of_both_schemas_normalise() {
    for (file, schema, id, event_type) in SAMPLES {
        let body = fixture_json(&format!("eventgrid/{file}"));
        let events = IncomingEvent::parse_batch(&body).unwrap_or_else(|e| panic!("{file}: {e}"));

        assert_eq!(events.len(), 1, "{file}");
        let event = &events[0];
        assert_eq!(event.kind, *schema, "{file}");
        assert_eq!(event.id, *id, "{file}");
        assert_eq!(event.event_type, *event_type, "{file}");
        assert!(event.time.is_some(), "{file}: time did not parse");
        assert!(event.data.is_object(), "{file}: data");
    }
}

/// The host passes each event to the function as `Data.<binding>`, an object; a JSON string
/// holding the event is accepted too.
#[test]
fn host_invocations_carrying_sample_events_normalise() {
    for (file, schema, id, _) in SAMPLES {
        let body = fixture_json(&format!("eventgrid/{file}"));
        let event = match body {
            Value::Array(items) => items[0].clone(),
            single => single,
        };

        for form in [event.clone(), Value::String(event.to_string())] {
            let request = InvocationRequest::from_value(json!({
                "Data": {"event": form},
                "Metadata": {"data": event["data"].clone()}
            }))
            .unwrap();
            let trigger = EventGridTrigger::from_invocation(&request, "event").unwrap();

            assert_eq!(trigger.event.kind, *schema, "{file}");
            assert_eq!(trigger.event.id, *id, "{file}");
        }
    }
}

#[test]
fn resource_events_carry_source_subject_and_time() {
    let cloud = fixture_json("eventgrid/cloudevents/resource-delete-success.json");
    let grid = fixture_json("eventgrid/eventgridschema/resource-delete-success.json");
    let cloud = &IncomingEvent::parse_batch(&cloud).unwrap()[0];
    let grid = &IncomingEvent::parse_batch(&grid).unwrap()[0];

    assert_eq!(cloud.source, grid.source);
    assert_eq!(cloud.subject, grid.subject);
    assert_eq!(cloud.time, Some(datetime!(2018-07-19 19:24:12.763881 UTC)));
    assert_eq!(cloud.time, grid.time);
    assert_eq!(cloud.data["resourceUri"], grid.data["resourceUri"]);
}

#[test]
fn a_null_cloud_event_subject_is_none() {
    let file = "custom-event.cloudevents-spec-json-format.json";
    let body = fixture_json(&format!("eventgrid/cloudevents/{file}"));
    let event = &IncomingEvent::parse_batch(&body).unwrap()[0];

    assert_eq!(event.subject, None);
    assert_eq!(event.source.as_deref(), Some("/mycontext"));
    assert_eq!(event.data["appinfoB"], 123);
}

#[test]
fn subscription_validation_yields_the_fixture_response() {
    let request = fixture_json("eventgrid/eventgridschema/subscription-validation.request.json");
    let expected = fixture_json("eventgrid/handshake/subscription-validation.response.json");

    assert_eq!(validation_response(&request), Some(expected));
}

#[test]
fn assembled_validation_exchange_matches() {
    let path =
        fixtures().join("eventgrid/handshake/eventgrid-schema-validation.delivery.assembled.http");
    let text = read_text(&path);
    let (_, rest) = split_http(&text);
    let (request_body, response) = rest.split_once("HTTP/1.1 200 OK").unwrap();
    let (_, response_body) = split_http(response.trim_start());

    let answer = validation_response(&serde_json::from_str(request_body).unwrap());
    let expected: Value = serde_json::from_str(&response_body).unwrap();
    assert_eq!(answer, Some(expected));
}

#[test]
fn notifications_need_no_validation_answer() {
    let path = fixtures()
        .join("eventgrid/handshake/eventgrid-schema-notification.delivery.assembled.http");
    let (_, rest) = split_http(&read_text(&path));
    let (body, _) = rest.split_once("HTTP/1.1 202").unwrap();

    assert_eq!(validation_response(&serde_json::from_str(body).unwrap()), None);
}

#[test]
fn cloudevents_options_handshake_matches_the_fixture() {
    let path =
        fixtures().join("eventgrid/handshake/cloudevents-options-abuse-protection.assembled.http");
    let text = read_text(&path);
    let (request_head, response) = split_http(&text);
    let request_headers = header_pairs(&request_head[1..]);
    let (response_head, _) = split_http(response.trim_start());
    let expected = header_pairs(&response_head[1..]);

    let grant = abuse_protection_response(request_headers, DEFAULT_ALLOWED_ORIGINS).unwrap();
    let granted: Vec<(String, String)> = grant
        .headers()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();

    assert_eq!(granted, lower_names(expected));
}

fn header_pairs(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn lower_names(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect()
}

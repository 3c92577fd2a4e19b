//! The fuzz targets of `fuzz/` as CI tests: the spec parser and the Functions host payload
//! parsers get random bytes, truncated documents and structured mutations of valid ones,
//! and must answer with errors, never panic. (`cargo +nightly fuzz run <target>` runs the
//! same calls under libFuzzer for longer.)

use polaris_core::saga::WorkMessage;
use polaris_host::{EventGridTrigger, IncomingEvent, InvocationRequest, ServiceBusTrigger};
use proptest::prelude::*;
use serde_json::{Value, json};

fn spec_seeds() -> Vec<Value> {
    ["standard", "enhanced", "private"]
        .iter()
        .map(|name| {
            let path = format!("{}/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
            serde_json::from_str(&std::fs::read_to_string(path).expect("example exists"))
                .expect("examples are JSON")
        })
        .collect()
}

fn payload_seeds() -> Vec<Value> {
    let work = json!({"schema": 1, "kind": "kick", "deployment_id": "demo-00000001"});
    vec![
        json!({
            "Data": { "message": work.to_string() },
            "Metadata": {
                "DeliveryCount": "1",
                "MessageId": "\"m-1\"",
                "sys": { "MethodName": "work", "UtcNow": "2023-10-12T20:13:49.640002Z" }
            }
        }),
        json!({
            "Data": { "event": {
                "id": "1", "topic": "/subscriptions/s", "subject": "/x",
                "eventType": "Microsoft.Resources.ResourceDeleteSuccess",
                "eventTime": "2023-10-12T20:13:49Z", "data": {}, "dataVersion": "1"
            }},
            "Metadata": { "sys": { "MethodName": "events" } }
        }),
    ]
}

/// The fuzz target `spec_parser`.
fn exercise_spec(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = polaris_core::spec::parse_spec(text);
    }
    if let Ok(value) = serde_json::from_slice::<Value>(data) {
        let _ = polaris_core::spec::parse_spec_value(&value);
    }
}

/// The fuzz target `host_payload`.
fn exercise_payload(data: &[u8]) {
    let Ok(request) = InvocationRequest::from_slice(data) else { return };
    let _ = request.retry_context();
    let _ = request.method_name();
    for binding in ["message", "event", "req", "timer"] {
        if let Ok(trigger) = ServiceBusTrigger::from_invocation(&request, binding) {
            if let Some(json) = trigger.body.as_json() {
                let _ = serde_json::from_value::<WorkMessage>(json.clone());
            }
            let _ = trigger.body.as_text();
        }
        let _ = EventGridTrigger::from_invocation(&request, binding);
        if let Ok(value) = request.binding(binding) {
            let _ = IncomingEvent::parse_batch(value);
            let _ = IncomingEvent::from_value(value);
        }
    }
}

/// A replacement value of any JSON type.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!("x".repeat(5000))),
    ]
}

/// Applies one mutation at the node `pick` selects: replace it, or remove a member.
fn mutate(node: &mut Value, pick: usize, replacement: Value, remove: bool, depth: u32) {
    let choice = pick >> (depth * 4);
    match node {
        Value::Object(map) if !map.is_empty() && depth < 4 => {
            let key = map.keys().nth(choice % map.len()).cloned().expect("non-empty");
            if remove && depth > 0 {
                map.remove(&key);
            } else if let Some(child) = map.get_mut(&key) {
                mutate(child, pick, replacement, remove, depth + 1);
            }
        }
        Value::Array(items) if !items.is_empty() && depth < 4 => {
            let len = items.len();
            mutate(&mut items[choice % len], pick, replacement, remove, depth + 1);
        }
        _ => *node = replacement,
    }
}

fn mutated(seeds: Vec<Value>) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len();
    (
        0..count,
        prop::collection::vec((any::<usize>(), any_value(), any::<bool>()), 1..6),
        any::<u8>(),
    )
        .prop_map(move |(which, mutations, cut)| {
            let mut doc = seeds[which].clone();
            for (pick, value, remove) in mutations {
                mutate(&mut doc, pick, value, remove, 0);
            }
            let mut bytes = serde_json::to_vec(&doc).expect("serializes");
            // One in eight documents is cut short.
            if cut % 8 == 0 {
                bytes.truncate(bytes.len() * usize::from(cut) / 256);
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn spec_parser_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise_spec(&data);
    }

    #[test]
    fn spec_parser_never_panics_on_mutated_specs(data in mutated(spec_seeds())) {
        exercise_spec(&data);
    }

    #[test]
    fn host_payload_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise_payload(&data);
    }

    #[test]
    fn host_payload_never_panics_on_mutated_payloads(data in mutated(payload_seeds())) {
        exercise_payload(&data);
    }
}

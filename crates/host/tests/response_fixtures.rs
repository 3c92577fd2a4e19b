//! Our response envelope against the documented and host-tested shapes.

mod support;

use std::collections::BTreeMap;

use polaris_host::{HttpOutput, InvocationResponse};
use serde_json::{Value, json};

use support::{files_with_extension, fixture_json, fixtures};

const RESPONSES: &str = "functions/responses";

fn as_value(response: &InvocationResponse) -> Value {
    serde_json::from_str(&response.to_json()).expect("response is JSON")
}

#[test]
fn minimal_success_matches_the_fixture() {
    let ours = InvocationResponse::new().with_log("processed message order-A-1001 (delivery 1)");
    let expected = fixture_json(&format!("{RESPONSES}/response.minimal-success.assembled.json"));

    assert_eq!(as_value(&ours), expected);
}

#[test]
fn http_output_response_matches_the_fixture() {
    let res = HttpOutput::json(201, &json!({"id": "A-1001", "status": "accepted"}));
    let ours =
        InvocationResponse::new().with_http_output("res", &res).with_log("created order A-1001");
    let file = "response.http-nonforwarding.res-output.assembled.json";
    let expected = fixture_json(&format!("{RESPONSES}/{file}"));

    assert_eq!(as_value(&ours), expected);
}

#[test]
fn host_test_response_shape_round_trips() {
    let file = "response.host-unit-test.GetHttpScriptInvocationResultWithJsonRes.assembled.json";
    let expected = fixture_json(&format!("{RESPONSES}/{file}"));
    let ours = InvocationResponse::new()
        .with_output("res", json!({"statusCode": "201", "body": "my world"}))
        .with_log("invocation log1")
        .with_log("invocation log2");

    assert_eq!(as_value(&ours), expected);
}

/// Every documented response is an object whose keys are a subset of ours, so whatever we
/// write is a shape the host accepts.
#[test]
fn every_response_fixture_uses_only_our_keys() {
    let ours = as_value(&InvocationResponse::new());
    let our_keys: Vec<&String> = ours.as_object().unwrap().keys().collect();

    let names = files_with_extension(&fixtures().join(RESPONSES), ".json");
    let envelopes = names.iter().filter(|name| name.starts_with("response."));
    for name in envelopes {
        let value = fixture_json(&format!("{RESPONSES}/{name}"));
        let object = value.as_object().unwrap_or_else(|| panic!("{name} is not an object"));
        for key in object.keys() {
            assert!(our_keys.contains(&key), "{name}: unknown key {key}");
        }
    }
    assert!(ours.as_object().unwrap().len() == 3, "we always write all three keys");
}

/// The host's own test cases for `Outputs.res`: ours must serialize to an accepted input.
#[test]
fn http_output_matches_host_test_inputs() {
    let cases =
        fixture_json(&format!("{RESPONSES}/http-output-binding.host-test-inline-data.json"));
    let full = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| case["input"].as_str().unwrap())
        .find(|input| input.contains("headers"))
        .unwrap();
    let expected: Value = serde_json::from_str(full).unwrap();

    let headers = BTreeMap::from([
        ("header1".to_owned(), "header1Value".to_owned()),
        ("header2".to_owned(), "header2Value".to_owned()),
    ]);
    let ours = HttpOutput { status_code: 301, headers, body: "foobar".to_owned() };

    assert_eq!(ours.to_value(), expected);
}

/// The host base64-decodes string outputs when it can; JSON object text never qualifies.
#[test]
fn json_bodies_are_never_valid_base64() {
    let output = HttpOutput::json(200, &json!({"ok": true}));
    let base64_alphabet = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';

    assert!(!output.body.chars().all(base64_alphabet));
}

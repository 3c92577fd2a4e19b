//! `docs/message-schema.md` and `docs/work-message.schema.json` describe the real
//! `WorkMessage`: every documented example parses, and every variant serializes to exactly
//! the properties the schema allows, with the required ones present.

use std::collections::BTreeSet;

use polaris_core::ids::{DeploymentId, StepName};
use polaris_core::saga::{Phase, WORK_SCHEMA, WorkItem, WorkMessage};
use serde_json::Value;

fn doc(name: &str) -> String {
    std::fs::read_to_string(format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR"))).expect("doc")
}

fn json_blocks(markdown: &str) -> Vec<String> {
    markdown.split("```json").skip(1).map(|b| b.split("```").next().unwrap().to_owned()).collect()
}

fn branch<'a>(schema: &'a Value, kind: &str) -> &'a Value {
    let branches = schema["oneOf"].as_array().expect("oneOf");
    branches.iter().find(|b| b["properties"]["kind"]["const"] == kind).expect("branch")
}

fn keys(value: &Value, field: &str) -> BTreeSet<String> {
    match &value[field] {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(names) => names.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => BTreeSet::new(),
    }
}

fn conforms(schema: &Value, message: &Value) {
    let kind = message["kind"].as_str().expect("kind");
    let branch = branch(schema, kind);
    let present: BTreeSet<String> = message.as_object().unwrap().keys().cloned().collect();
    assert!(keys(branch, "required").is_subset(&present), "{kind}: required in {message}");
    assert!(present.is_subset(&keys(branch, "properties")), "{kind}: extra keys in {message}");
    assert_eq!(message["schema"], WORK_SCHEMA);
}

#[test]
fn documented_examples_are_work_messages_and_match_the_schema() {
    let schema: Value = serde_json::from_str(&doc("work-message.schema.json")).expect("schema");
    let blocks = json_blocks(&doc("message-schema.md"));
    assert_eq!(blocks.len(), 4, "one example per kind");
    for block in blocks {
        let value: Value = serde_json::from_str(&block).expect("example is JSON");
        let message: WorkMessage = serde_json::from_value(value.clone()).expect("parses");
        assert_eq!(message.schema(), WORK_SCHEMA);
        conforms(&schema, &value);
    }
}

#[test]
fn every_variant_serializes_within_the_schema() {
    let schema: Value = serde_json::from_str(&doc("work-message.schema.json")).expect("schema");
    let id = DeploymentId::new("demo-00000001").unwrap();
    let item = WorkItem {
        deployment_id: id.clone(),
        step: StepName::new("vnet"),
        phase: Phase::Undo,
        attempt: 2,
        tick: 7,
        not_before: Some(time::macros::datetime!(2026-12-04 16:30 UTC)),
    };
    let deploy = WorkMessage::Deploy {
        schema: WORK_SCHEMA.to_owned(),
        deployment_id: Some(id.clone()),
        idempotency_key: Some("k".into()),
        spec: serde_json::json!({}),
    };
    let messages =
        [WorkMessage::step(item), WorkMessage::kick(id.clone()), WorkMessage::teardown(id)];
    let messages = messages.into_iter().chain([deploy]);
    let kinds = ["step", "kick", "teardown", "deploy"];
    for (message, kind) in messages.zip(kinds) {
        let value = serde_json::to_value(&message).unwrap();
        assert_eq!(value["kind"], kind);
        conforms(&schema, &value);
        assert_eq!(serde_json::from_value::<WorkMessage>(value).unwrap(), message);
    }
}

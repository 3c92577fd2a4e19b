//! Issue 4, Event Grid teardown: our custom event and `ResourceDeleteSuccess` for a
//! resource we created tear a deployment down, in either schema; duplicates act once;
//! anything else (including a forged event naming a resource group we did not create) is
//! ignored, recorded, and deletes nothing. Also the embedded webhook's handshakes, and the
//! teardown end states of B01 and B27.

mod api_support;
mod support;

use polaris::api::ApiAuth;
use polaris::events::{
    EventDisposition, EventRecords, TEARDOWN_REQUESTED, handle_batch, handle_event, webhook,
};
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_host::IncomingEvent;
use serde_json::{Value, json};
use support::{Harness, Setup, example, resource_id, with};
use warp::http::StatusCode;

const FIXTURES: &str = "/work/shared/fixtures/eventgrid";

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{path}")).expect("fixture exists")
}

/// A fixture with its placeholders filled in, naming `resource`, raised after every
/// deployment of the test (the fixtures' own times are from 2018), parsed into events.
fn events_from(path: &str, subscription: &str, group: &str, resource: &str) -> Vec<IncomingEvent> {
    events_at(path, subscription, group, resource, Some("2030-01-01T00:00:00Z"))
}

fn events_at(
    path: &str,
    subscription: &str,
    group: &str,
    resource: &str,
    time: Option<&str>,
) -> Vec<IncomingEvent> {
    let text = fixture(path).replace("{subscription-id}", subscription);
    let text = text.replace("{resource-group}", group);
    let mut body: Value = serde_json::from_str(&text).expect("fixture is JSON");
    for event in body.as_array_mut().into_iter().flatten() {
        event["data"]["resourceUri"] = json!(resource);
        event["subject"] = json!(resource);
        if let Some(time) = time {
            let key = if event.get("specversion").is_some() { "time" } else { "eventTime" };
            event[key] = json!(time);
        }
    }
    IncomingEvent::parse_batch(&body).expect("events parse")
}

async fn deployed(spec: &Value) -> (Harness, SagaState) {
    let h = support::start(Setup::default()).await;
    let state = h.deploy(spec, "events").await;
    assert_eq!(state.status, DeploymentStatus::Succeeded);
    (h, state)
}

fn subscription(state: &SagaState) -> String {
    state.spec["subscription_id"].as_str().expect("subscription").to_owned()
}

fn group_name(state: &SagaState) -> String {
    state.outputs["resource_group_name"].clone().expect("resource group")
}

fn deletes(h: &Harness) -> usize {
    h.sim().request_log().iter().filter(|r| r.method == "DELETE").count()
}

fn custom(id: &str, data: Value) -> IncomingEvent {
    let raw = json!([{
        "id": id, "eventType": TEARDOWN_REQUESTED, "subject": "/polaris",
        "eventTime": "2030-01-01T00:00:00Z", "data": data, "dataVersion": "1"
    }]);
    IncomingEvent::parse_batch(&raw).expect("parses").remove(0)
}

#[tokio::test]
async fn a_custom_event_tears_down_once_however_often_it_is_delivered() {
    let (h, state) = deployed(&example("enhanced.json")).await;
    let id = state.deployment_id.clone();
    let event = custom("evt-1", json!({ "deploymentId": id.as_str() }));

    let first = handle_event(&h.rt.app, &event).await;
    assert_eq!(first, EventDisposition::TeardownRequested { deployment_id: id.to_string() });
    let again = handle_event(&h.rt.app, &event).await;
    assert_eq!(again, EventDisposition::Duplicate { event_id: "evt-1".into() });

    h.run().await;
    assert_eq!(h.state(&id).await.status, DeploymentStatus::TornDown);
    assert!(h.tagged(&id).is_empty(), "left behind: {:#?}", h.tagged(&id));

    // A different event for the same, now gone, deployment changes nothing.
    let late = custom("evt-2", json!({ "deploymentId": id.as_str() }));
    let late = handle_event(&h.rt.app, &late).await;
    assert_eq!(late, EventDisposition::AlreadyTornDown { deployment_id: id.to_string() });
}

#[tokio::test]
async fn resource_delete_success_for_our_resources_tears_down_in_both_schemas() {
    for (schema, resource_step) in [
        ("eventgridschema/resource-delete-success.json", None),
        ("cloudevents/resource-delete-success.json", Some("container_group")),
    ] {
        let (h, state) = deployed(&example("enhanced.json")).await;
        let (sub, group) = (subscription(&state), group_name(&state));
        let resource = match resource_step {
            Some(step) => resource_id(&h.plan(&state), step).expect("id"),
            None => format!("/subscriptions/{sub}/resourceGroups/{group}"),
        };
        let events = events_from(schema, &sub, &group, &resource);

        let results = handle_batch(&h.rt.app, &events).await;
        let expected =
            EventDisposition::TeardownRequested { deployment_id: state.deployment_id.to_string() };
        assert_eq!(results, vec![expected], "{schema}");
        h.run().await;
        let end = h.state(&state.deployment_id).await;
        assert_eq!(end.status, DeploymentStatus::TornDown, "{schema}");
        assert!(h.tagged(&state.deployment_id).is_empty());
    }
}

#[tokio::test]
async fn forged_and_foreign_events_delete_nothing_and_are_recorded() {
    let (h, state) = deployed(&example("enhanced.json")).await;
    let sub = subscription(&state);
    let deletes_before = deletes(&h);
    let inventory_before = h.sim().inventory().len();

    let foreign_group = format!("/subscriptions/{sub}/resourceGroups/not-ours");
    let mut events = events_from(
        "eventgridschema/resource-delete-success.json",
        &sub,
        "not-ours",
        &foreign_group,
    );
    events.push(custom("forged-1", json!({ "resourceGroupId": foreign_group })));
    events.push(custom("forged-2", json!({ "deploymentId": "someone-elses-1234" })));
    // A verbatim fixture: a storage account in a placeholder group, not ours. (It shares
    // its id with the Event Grid schema sample, so it gets its own.)
    let text = fixture("cloudevents/resource-delete-success.json")
        .replace("19a69642-1aad-4a96-a5ab-8d05494513ce", "ce-storage-delete");
    events.extend(
        IncomingEvent::parse_batch(&serde_json::from_str(&text).expect("json")).expect("parse"),
    );
    for other in
        ["eventgridschema/blob-created.json", "eventgridschema/custom-event.recordInserted.json"]
    {
        let body: Value = serde_json::from_str(&fixture(other)).expect("json");
        events.extend(IncomingEvent::parse_batch(&body).expect("parse"));
    }
    let body: Value = serde_json::from_str(&fixture(
        "cloudevents/custom-event.cloudevents-spec-json-format.json",
    ))
    .expect("json");
    events.extend(IncomingEvent::parse_batch(&body).expect("parse"));

    let results = handle_batch(&h.rt.app, &events).await;
    for (event, result) in events.iter().zip(&results) {
        assert!(matches!(result, EventDisposition::Ignored { .. }), "{}: {result:?}", event.id);
    }
    h.run().await;
    assert_eq!(h.state(&state.deployment_id).await.status, DeploymentStatus::Succeeded);
    assert_eq!(deletes(&h), deletes_before, "nothing was deleted");
    assert_eq!(h.sim().inventory().len(), inventory_before);

    // Each ignored event is recorded.
    for event in &events {
        let doc = h.rt.app.worker.store.get(&EventRecords::key(&event.id)).await;
        assert!(doc.is_ok(), "{} was not recorded", event.id);
    }
}

#[tokio::test]
async fn a_delete_event_older_than_the_deployment_does_not_hit_a_redeploy() {
    let (h, state) = deployed(&example("enhanced.json")).await;
    let (sub, group) = (subscription(&state), group_name(&state));
    let rg = format!("/subscriptions/{sub}/resourceGroups/{group}");
    // The fixture's eventTime is 2018, long before this deployment was created.
    let sample = "eventgridschema/resource-delete-success.json";
    let events = events_at(sample, &sub, &group, &rg, None);
    let results = handle_batch(&h.rt.app, &events).await;
    assert!(matches!(results[0], EventDisposition::Ignored { .. }), "{results:?}");
    assert_eq!(h.state(&state.deployment_id).await.status, DeploymentStatus::Succeeded);
}

async fn hook(
    h: &Harness,
    method: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (StatusCode, warp::http::HeaderMap, String) {
    let filter = webhook(h.rt.app.clone(), ApiAuth::LoopbackOnly);
    let mut request = warp::test::request().method(method).path("/runtime/webhooks/eventgrid");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.reply(&filter).await;
    let text = String::from_utf8_lossy(response.body()).into_owned();
    (response.status(), response.headers().clone(), text)
}

#[tokio::test]
async fn the_embedded_webhook_answers_both_handshakes_and_delivers_events() {
    let (h, state) = deployed(&example("standard.json")).await;

    let validation = fixture("eventgridschema/subscription-validation.request.json");
    let expected: Value =
        serde_json::from_str(&fixture("handshake/subscription-validation.response.json"))
            .expect("json");
    let (status, _, text) =
        hook(&h, "POST", &[("aeg-event-type", "SubscriptionValidation")], Some(&validation)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), expected);

    let origin = [("WebHook-Request-Origin", "eventgrid.azure.net")];
    let (status, headers, _) = hook(&h, "OPTIONS", &origin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers.get("webhook-allowed-origin").map(|v| v.to_str().unwrap()),
        Some("eventgrid.azure.net")
    );
    let (status, _, _) =
        hook(&h, "OPTIONS", &[("WebHook-Request-Origin", "attacker.example")], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _, _) = hook(&h, "POST", &[], Some("[]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no aeg-event-type");

    // A lone CloudEvent (CloudEvents schema) asking for the teardown.
    let event = json!({
        "specversion": "1.0", "id": "ce-1", "type": TEARDOWN_REQUESTED, "source": "/ops",
        "time": "2030-01-01T00:00:00Z",
        "data": { "deploymentId": state.deployment_id.as_str() }
    })
    .to_string();
    let ce = [("content-type", "application/cloudevents+json; charset=utf-8")];
    let (status, _, _) = hook(&h, "POST", &ce, Some(&event)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    h.run().await;
    assert_eq!(h.state(&state.deployment_id).await.status, DeploymentStatus::TornDown);

    // Event Grid schema notification of an unrelated event: accepted and ignored.
    let blob = fixture("eventgridschema/blob-deleted.json");
    let notification = [("aeg-event-type", "Notification")];
    let (status, _, _) = hook(&h, "POST", &notification, Some(&blob)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

/// B27: a purge-protected vault cannot be purged; teardown still finishes, recording the
/// retained vault and until when. B01: redeploying the same spec then succeeds.
#[tokio::test]
async fn purge_protected_vault_ends_teardown_cleanly_and_redeploy_succeeds() {
    let spec = with(example("enhanced.json"), json!({ "key_vault_purge_protection": true }));
    let (h, state) = deployed(&spec).await;
    let id = state.deployment_id.clone();
    let event = custom("b27", json!({ "deploymentId": id.as_str() }));
    handle_event(&h.rt.app, &event).await;
    h.run().await;

    let end = h.state(&id).await;
    assert_eq!(end.status, DeploymentStatus::TornDown, "{}", support::history(&end));
    let vault = end
        .history
        .iter()
        .find(|e| e.event == "undone" && e.step.as_ref().is_some_and(|s| s.as_str() == "vault"));
    let detail = &vault.expect("the vault undo is recorded").detail;
    assert!(detail.contains("purge protection"), "{detail}");
    assert!(end.steps.values().all(|s| s.status != polaris_core::saga::StepStatus::UndoFailed));
    let name = end.outputs["key_vault_name"].clone().expect("vault name");
    assert!(h.sim().soft_deleted_vaults().iter().any(|v| v.name.eq_ignore_ascii_case(&name)));
    assert!(h.tagged(&id).is_empty());

    let again = h.deploy(&spec, "events-again").await;
    assert_eq!(again.status, DeploymentStatus::Succeeded, "{}", support::history(&again));
}

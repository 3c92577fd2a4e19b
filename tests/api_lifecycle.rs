//! Issue 4: failed, stuck and redriven deployments through the API: the last error with its
//! Azure request id, `retry` (redrive) and `abandon` with what may remain.

mod api_support;
mod support;

use api_support::{api, call};
use serde_json::json;
use support::faults::{on, status};
use support::{Harness, Setup, example, resource_id};
use warp::http::StatusCode;

/// Submits `private.json` with the container group refused; with `vnet_stuck`, the VNet
/// cannot be deleted during compensation either.
async fn failing(vnet_stuck: bool) -> (Harness, String) {
    let h = support::start(Setup::default()).await;
    let accepted = h.submit(&example("private.json"), "lifecycle").await;
    let plan = h.plan(&accepted);
    let group = resource_id(&plan, "container_group").expect("group");
    let faults = h.sim().faults();
    faults.push(on("PUT", &group, status(400, "InvalidContainerGroup"))).expect("rule");
    if vnet_stuck {
        let vnet = resource_id(&plan, "vnet").expect("vnet");
        faults.push(on("DELETE", &vnet, status(409, "InjectedDeleteRefused"))).expect("rule");
    }
    h.run().await;
    (h, accepted.deployment_id.to_string())
}

#[tokio::test]
async fn a_failed_deployment_shows_its_error_and_retry_redrives_it() {
    let (h, id) = failing(false).await;
    let api = api(h.rt.app.clone());
    let path = format!("/api/deployments/{id}");

    let failed = call(&api, "GET", &path, None, &[]).await;
    assert_eq!(failed.status, StatusCode::OK, "terminal: {}", failed.text);
    assert_eq!(failed.body["status"], json!("compensated"));
    assert_eq!(failed.body["runtime_status"], json!("Failed"));
    let error = &failed.body["last_error"];
    assert_eq!(error["step"], json!("container_group"));
    assert_eq!(error["code"], json!("InvalidContainerGroup"));
    assert!(error["request_id"].as_str().is_some_and(|r| !r.is_empty()), "{error}");

    h.sim().faults().clear();
    let retry = call(&api, "POST", &format!("{path}/retry"), None, &[]).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text);
    assert_eq!(retry.header("location"), Some(path.as_str()));
    assert!(retry.header("retry-after").is_some());
    h.run().await;
    let done = call(&api, "GET", &format!("{path}?history=true"), None, &[]).await;
    assert_eq!(done.body["status"], json!("succeeded"), "{}", done.text);
    let history = done.body["history"].as_array().expect("history");
    assert!(history.iter().any(|e| e["event"] == json!("redrive")));
}

#[tokio::test]
async fn a_stuck_undo_can_be_redriven_or_abandoned() {
    let (h, id) = failing(true).await;
    let api = api(h.rt.app.clone());
    let path = format!("/api/deployments/{id}");
    let stuck = call(&api, "GET", &path, None, &[]).await;
    assert_eq!(stuck.body["status"], json!("stuck"), "{}", stuck.text);
    assert_eq!(stuck.body["last_error"]["code"], json!("InjectedDeleteRefused"));

    // Still refused: the redrive ends stuck again, it does not pretend.
    let retry = call(&api, "POST", &format!("{path}/retry"), None, &[]).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED);
    h.run().await;
    let again = call(&api, "GET", &path, None, &[]).await;
    assert_eq!(again.body["status"], json!("stuck"));

    let reason = json!({ "reason": "the VNet is locked by another team" });
    let abandoned = call(&api, "POST", &format!("{path}/abandon"), Some(&reason), &[]).await;
    assert_eq!(abandoned.status, StatusCode::OK, "{}", abandoned.text);
    assert_eq!(abandoned.body["status"], json!("abandoned"));
    assert_eq!(abandoned.body["runtime_status"], json!("Terminated"));
    let history = abandoned.body["history"].as_array().expect("history");
    let last = history.last().expect("an entry");
    assert_eq!(last["event"], json!("deployment_abandoned"));
    let detail = last["detail"].as_str().expect("detail");
    assert!(detail.contains("locked by another team") && detail.contains("may remain"));
    assert!(detail.contains("virtualNetworks"), "{detail}");

    let teardown = call(&api, "DELETE", &path, None, &[]).await;
    assert_eq!(teardown.status, StatusCode::CONFLICT, "{}", teardown.text);
}

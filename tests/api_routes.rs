//! Issue 4: every route of the Deployments API, status code and header, through
//! `warp::test` against the real filter over the embedded runtime (virtual time, memory
//! store, simulated Azure).

mod api_support;
mod support;

use api_support::{CANARY, Reply, api, call, secret_spec};
use polaris::api::{ApiAuth, ROUTES, openapi_document};
use polaris_core::ids::DeploymentId;
use serde_json::{Value, json};
use support::{Setup, example, with};
use warp::http::StatusCode;

fn assert_problem(reply: &Reply, status: StatusCode) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert_eq!(reply.body["status"], json!(status.as_u16()));
    assert!(reply.body["type"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(reply.body["title"].as_str().is_some_and(|t| !t.is_empty()));
}

fn assert_no_canary(reply: &Reply) {
    assert!(!reply.text.contains(CANARY), "a secret leaked into an answer: {}", reply.text);
}

#[tokio::test]
async fn deploy_poll_history_teardown_and_redeploy() {
    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    let spec = secret_spec(example("enhanced.json"));

    let key = [("Idempotency-Key", "order-1")];
    let first = call(&api, "POST", "/api/deployments", Some(&spec), &key).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let id = first.body["id"].as_str().expect("id").to_owned();
    assert_eq!(first.header("location"), Some(format!("/api/deployments/{id}").as_str()));
    assert_eq!(first.header("retry-after"), Some("5"));
    assert_no_canary(&first);

    // The same key yields the same deployment, and only one exists.
    let again = call(&api, "POST", "/api/deployments", Some(&spec), &key).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body["id"], json!(id));
    let listed = call(&api, "GET", "/api/deployments", None, &[]).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1), "{}", listed.text);
    // The same key with another spec is a client error, not a repeat.
    let other = with(spec.clone(), json!({ "container_cpu": 1 }));
    let reused = call(&api, "POST", "/api/deployments", Some(&other), &key).await;
    assert_problem(&reused, StatusCode::CONFLICT);

    let running = call(&api, "GET", &format!("/api/deployments/{id}"), None, &[]).await;
    assert_eq!(running.status, StatusCode::ACCEPTED);
    assert!(running.header("location").is_some() && running.header("retry-after").is_some());
    assert_eq!(running.body["runtime_status"], json!("Pending"));

    h.run().await;
    let done = call(&api, "GET", &format!("/api/deployments/{id}?history=true"), None, &[]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["status"], json!("succeeded"));
    assert_eq!(done.body["runtime_status"], json!("Completed"));
    assert_eq!(done.body["progress"]["done"], done.body["progress"]["total"]);
    for output in ["resource_group_name", "container_group_ip", "key_vault_name", "key_name"] {
        assert!(done.body["outputs"][output].is_string(), "output {output}: {}", done.text);
    }
    let history = done.body["history"].as_array().expect("history on request");
    assert!(history.iter().any(|e| e["event"] == json!("deployment_succeeded")));
    assert_no_canary(&done);
    let plain = call(&api, "GET", &format!("/api/deployments/{id}"), None, &[]).await;
    assert!(plain.body.get("history").is_none(), "history only on request");

    let teardown = call(&api, "DELETE", &format!("/api/deployments/{id}"), None, &[]).await;
    assert_eq!(teardown.status, StatusCode::ACCEPTED, "{}", teardown.text);
    assert_eq!(teardown.header("location"), Some(format!("/api/deployments/{id}").as_str()));
    h.run().await;
    let gone = call(&api, "GET", &format!("/api/deployments/{id}"), None, &[]).await;
    assert_eq!(gone.status, StatusCode::OK);
    assert_eq!(gone.body["status"], json!("torn_down"));
    let dep = DeploymentId::new(id.clone()).expect("id");
    assert!(h.tagged(&dep).is_empty(), "teardown left {:#?}", h.tagged(&dep));

    // B01: the same spec deploys again after the teardown.
    let key2 = [("Idempotency-Key", "order-2")];
    let second = call(&api, "POST", "/api/deployments", Some(&spec), &key2).await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_ne!(second.body["id"], json!(id));
    h.run().await;
    let path = format!("/api/deployments/{}", second.body["id"].as_str().expect("id"));
    let redeployed = call(&api, "GET", &path, None, &[]).await;
    assert_eq!(redeployed.body["status"], json!("succeeded"), "{}", redeployed.text);

    // Nothing secret anywhere in stored state either.
    let state = h.state(&dep).await;
    assert!(!serde_json::to_string(&state).expect("json").contains(CANARY));
}

#[tokio::test]
async fn invalid_specs_get_every_field_problem_as_problem_json() {
    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    let bad = with(
        example("enhanced.json"),
        json!({ "workload_port": 0, "container_cpu": -1, "key_rotation_days": 3 }),
    );

    let reply = call(&api, "POST", "/api/deployments", Some(&bad), &[]).await;
    assert_problem(&reply, StatusCode::BAD_REQUEST);
    let errors = reply.body["errors"].as_array().expect("errors");
    let fields: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    for field in ["workload_port", "container_cpu", "key_rotation_days"] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert!(errors.iter().all(|e| e["fix"].as_str().is_some_and(|f| !f.is_empty())));

    let plan = call(&api, "POST", "/api/plan", Some(&bad), &[]).await;
    assert_problem(&plan, StatusCode::BAD_REQUEST);
    let not_json = warp::test::request()
        .method("POST")
        .path("/api/deployments")
        .body("{not json")
        .reply(&api.clone().routes())
        .await;
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let listed = call(&api, "GET", "/api/deployments", None, &[]).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn plan_openapi_and_error_statuses() {
    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    let spec = secret_spec(example("enhanced.json"));

    let plan = call(&api, "POST", "/api/plan", Some(&spec), &[]).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.text);
    assert!(plan.body["steps"].as_array().is_some_and(|s| !s.is_empty()));
    assert_no_canary(&plan);

    let missing = call(&api, "GET", "/api/deployments/no-such-deployment", None, &[]).await;
    assert_problem(&missing, StatusCode::NOT_FOUND);
    let bad_id = call(&api, "DELETE", "/api/deployments/NOT_AN_ID", None, &[]).await;
    assert_problem(&bad_id, StatusCode::NOT_FOUND);
    let nowhere = call(&api, "GET", "/api/nowhere", None, &[]).await;
    assert_problem(&nowhere, StatusCode::NOT_FOUND);
    let wrong_method = call(&api, "PUT", "/api/deployments", None, &[]).await;
    assert_problem(&wrong_method, StatusCode::METHOD_NOT_ALLOWED);

    let accepted = call(&api, "POST", "/api/deployments", Some(&spec), &[]).await;
    let id = accepted.body["id"].as_str().expect("id").to_owned();
    h.run().await;
    let retry = call(&api, "POST", &format!("/api/deployments/{id}/retry"), None, &[]).await;
    assert_problem(&retry, StatusCode::CONFLICT);
    let path = format!("/api/deployments/{id}/abandon");
    let no_reason = call(&api, "POST", &path, Some(&json!({})), &[]).await;
    assert_problem(&no_reason, StatusCode::BAD_REQUEST);
    let abandon = call(&api, "POST", &path, Some(&json!({"reason": "gave up"})), &[]).await;
    assert_problem(&abandon, StatusCode::CONFLICT);
    // Without Azure clients configured, rotation says so instead of pretending.
    let rotate = call(&api, "POST", &format!("/api/deployments/{id}/rotate-key"), None, &[]).await;
    assert_problem(&rotate, StatusCode::SERVICE_UNAVAILABLE);

    let doc = call(&api, "GET", "/api/openapi.json", None, &[]).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
}

/// Every route the dispatcher serves is in the document with its method and status codes,
/// and every documented operation is served.
#[tokio::test]
async fn every_route_matches_the_openapi_document() {
    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    let doc = openapi_document();
    let paths = doc["paths"].as_object().expect("paths");

    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut served: Vec<(String, String)> =
        ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served, "document and dispatcher disagree");

    for (method, path) in ROUTES {
        let concrete = path.replace("{id}", "unknown-deployment");
        let body = json!({});
        let reply = call(&api, &method.to_uppercase(), &concrete, Some(&body), &[]).await;
        let op = &doc["paths"][*path][*method];
        let code = reply.status.as_u16().to_string();
        assert!(
            op["responses"].get(&code).is_some(),
            "{method} {path} answered {code}, which the document does not list: {}",
            reply.text
        );
        assert_ne!(reply.body["type"], json!("urn:polaris:problem:no-route"), "{method} {path}");
    }
}

#[tokio::test]
async fn list_filters_by_status_and_pages_with_a_continuation_token() {
    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    for n in 0..3 {
        let spec = with(example("standard.json"), json!({ "name": format!("svc{n}") }));
        let reply = call(&api, "POST", "/api/deployments", Some(&spec), &[]).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    }

    let first = call(&api, "GET", "/api/deployments?limit=2", None, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(2));
    let token = first.body["continuation"].as_str().expect("more pages").to_owned();
    let second =
        call(&api, "GET", &format!("/api/deployments?limit=2&continuation={token}"), None, &[])
            .await;
    assert_eq!(second.body["items"].as_array().map(Vec::len), Some(1), "{}", second.text);
    assert_eq!(second.body["continuation"], Value::Null);

    let none = call(&api, "GET", "/api/deployments?status=succeeded", None, &[]).await;
    assert_eq!(none.body["items"], json!([]));
    h.run().await;
    let all = call(&api, "GET", "/api/deployments?status=succeeded", None, &[]).await;
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(3), "{}", all.text);
    let bad = call(&api, "GET", "/api/deployments?status=sideways", None, &[]).await;
    assert_problem(&bad, StatusCode::BAD_REQUEST);
    let bad_limit = call(&api, "GET", "/api/deployments?limit=0", None, &[]).await;
    assert_problem(&bad_limit, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn delete_while_running_cancels_at_the_next_step_boundary() {
    let h = support::start(Setup::default()).await;
    let api = api(h.rt.app.clone());
    let spec = example("enhanced.json");
    let accepted = call(&api, "POST", "/api/deployments", Some(&spec), &[]).await;
    let id = accepted.body["id"].as_str().expect("id").to_owned();
    h.rt.drive_virtual(4).await;

    let cancel = call(&api, "DELETE", &format!("/api/deployments/{id}"), None, &[]).await;
    assert_eq!(cancel.status, StatusCode::ACCEPTED, "{}", cancel.text);
    assert_eq!(cancel.body["cancel_requested"], json!(true));
    h.run().await;
    let end = call(&api, "GET", &format!("/api/deployments/{id}"), None, &[]).await;
    assert_eq!(end.body["status"], json!("cancelled"), "{}", end.text);
    assert_eq!(end.body["runtime_status"], json!("Terminated"));
    let dep = DeploymentId::new(id).expect("id");
    assert!(h.tagged(&dep).is_empty());
}

#[tokio::test]
async fn bearer_token_is_required_when_configured() {
    let h = support::start(Setup::default()).await;
    let api = polaris::api::Api::new(h.rt.app.clone(), ApiAuth::Bearer("t0ken".into()));

    let none = call(&api, "GET", "/api/deployments", None, &[]).await;
    assert_problem(&none, StatusCode::UNAUTHORIZED);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let bad = [("Authorization", "Bearer x")];
    let wrong = call(&api, "GET", "/api/deployments", None, &bad).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let right =
        call(&api, "GET", "/api/deployments", None, &[("Authorization", "Bearer t0ken")]).await;
    assert_eq!(right.status, StatusCode::OK);

    let public: std::net::SocketAddr = "10.0.0.1:7071".parse().expect("addr");
    assert!(ApiAuth::for_listener(public, None).is_err(), "non-loopback needs a token");
    let local: std::net::SocketAddr = "127.0.0.1:7071".parse().expect("addr");
    assert!(matches!(ApiAuth::for_listener(local, None), Ok(ApiAuth::LoopbackOnly)));
}

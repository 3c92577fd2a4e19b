//! Secrets never leave the spec as values: not in Debug, Display, serde or plans.

mod plan_support;

use plan_support::*;
use polaris_core::plan::build_plan;
use serde_json::json;

const PASSWORD: &str = "registry-pa55-XYZ";
const API_KEY: &str = "api-key-value-123";

fn secret_spec() -> serde_json::Value {
    with(json!({
        "registry_login_server": "myreg.azurecr.io",
        "registry_username": "puller",
        "registry_password": PASSWORD,
        "workload_env_vars": {
            "API_KEY": { "value": API_KEY, "secret": true },
            "DEBUG": "true"
        }
    }))
}

#[test]
fn debug_and_serialization_never_show_secret_values() {
    let spec = parse(&secret_spec());
    let debug = format!("{spec:?}");
    let json = serde_json::to_string(&spec).unwrap();
    for text in [&debug, &json] {
        assert!(!text.contains(PASSWORD), "password leaked: {text}");
        assert!(!text.contains(API_KEY), "env secret leaked: {text}");
        assert!(text.contains("<redacted>"));
    }
    assert!(json.contains(r#""DEBUG":"true""#), "plain values stay visible: {json}");
}

#[test]
fn secrets_lists_each_secret_under_its_store_key() {
    let spec = parse(&secret_spec());
    let secrets: Vec<(String, Option<&str>)> =
        spec.secrets().into_iter().map(|(k, s)| (k, s.expose())).collect();
    assert_eq!(
        secrets,
        [
            ("registry_password".to_owned(), Some(PASSWORD)),
            ("env:API_KEY".to_owned(), Some(API_KEY))
        ]
    );
}

#[test]
fn no_secrets_without_registry_or_secure_env() {
    let spec = parse(&minimal());
    assert!(spec.secrets().is_empty());
}

#[test]
fn plan_carries_placeholders_not_values() {
    let spec = parse(&secret_spec());
    let plan = build_plan(&spec, &ctx()).unwrap();
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains(PASSWORD) && !text.contains(API_KEY), "secret in plan");

    let group = body(&plan, "container_group");
    let creds = &group["properties"]["imageRegistryCredentials"][0];
    assert_eq!(creds["password"], "${secret:registry_password}");
    assert_eq!(creds["server"], "myreg.azurecr.io");
    let workload = &group["properties"]["containers"][1]["properties"];
    let env = workload["environmentVariables"].as_array().unwrap();
    assert!(env.contains(&json!({ "name": "API_KEY", "secureValue": "${secret:env:API_KEY}" })));
    assert!(env.contains(&json!({ "name": "DEBUG", "value": "true" })));
}

#[test]
fn a_redacted_spec_plans_identically() {
    let spec = parse(&secret_spec());
    let redacted: polaris_core::spec::DeploymentSpec =
        serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
    assert_eq!(build_plan(&spec, &ctx()).unwrap(), build_plan(&redacted, &ctx()).unwrap());
}

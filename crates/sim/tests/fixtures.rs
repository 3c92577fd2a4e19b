//! Fixture fidelity: replays Microsoft's published request/response examples
//! (`shared/fixtures/arm`, beside the repository) against the simulator and checks the
//! status code is one the example lists and the body has the example's top-level keys,
//! `type` and `name`. Generated values (ids, uuids, dates) are not compared.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polaris_sim::{DeletedVaultSeed, SimConfig, SimHandle};
use serde_json::{Value, json};

/// `<repo>/../shared/fixtures/arm`; the crate lives at `<repo>/crates/sim`.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/arm");

/// Providers the simulator does not implement.
const SKIPPED_PROVIDERS: &[&str] = &["Microsoft.ContainerRegistry"];

const ROLE_DEFINITION: &str =
    "/providers/Microsoft.Authorization/roleDefinitions/0b5fe924-9a61-425c-96af-cfe6e287ca2d";

/// Keys that only carry pagination, absent when everything fits one page.
const PAGINATION_KEYS: &[&str] = &["nextLink"];

struct Example {
    file: String,
    method: String,
    template: String,
    params: serde_json::Map<String, Value>,
    responses: serde_json::Map<String, Value>,
}

fn load_examples() -> Vec<Example> {
    let root = Path::new(FIXTURES);
    assert!(root.join("index.json").exists(), "fixtures not found at {}", root.display());
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("index.json")).unwrap()).unwrap();

    let mut out = Vec::new();
    for entry in index["files"].as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        if entry["kind"] != "example" || SKIPPED_PROVIDERS.iter().any(|p| file.starts_with(p)) {
            continue;
        }
        let operation = &entry["operations"][0];
        let example: Value =
            serde_json::from_str(&std::fs::read_to_string(root.join(file)).unwrap()).unwrap();
        out.push(Example {
            file: file.to_string(),
            method: operation["method"].as_str().unwrap().to_string(),
            template: operation["path"].as_str().unwrap().to_string(),
            params: example["parameters"].as_object().unwrap().clone(),
            responses: example["responses"].as_object().unwrap().clone(),
        });
    }
    out
}

fn param_str(params: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match params.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Names of the `{param}` placeholders in a path template.
fn placeholders(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}'))
        .map(|(name, _)| name.to_string())
        .collect()
}

fn fill(template: &str, params: &serde_json::Map<String, Value>) -> String {
    let mut path = template.to_string();
    for name in placeholders(template) {
        let value = param_str(params, &name).unwrap_or_default();
        path = path.replace(&format!("{{{name}}}"), value.trim_start_matches('/'));
    }
    path
}

fn success_body(example: &Example) -> Option<Value> {
    ["200", "201"]
        .iter()
        .find_map(|s| example.responses.get(*s)?.get("body").cloned())
        .filter(Value::is_object)
}

/// Seeds every ARM id mentioned in `value` (strings and object keys), outside `own`.
fn seed_references(handle: &SimHandle, value: &Value, own: &str) {
    let mut ids = Vec::new();
    collect_ids(value, &mut ids);
    for id in ids {
        if id.to_ascii_lowercase().starts_with(&own.to_ascii_lowercase()) {
            continue;
        }
        let segments: Vec<&str> = id.split('/').collect();
        if let Some(at) = segments.iter().position(|s| s.eq_ignore_ascii_case("subnets")) {
            let vnet = segments[..at].join("/");
            let subnet = segments[..at + 2].join("/");
            handle.seed_resource(&vnet, json!({ "location": "westus" }));
            handle.seed_resource(
                &subnet,
                json!({ "properties": { "addressPrefix": "10.0.0.0/24",
                "delegations": [
                common::aci_delegation("aci")] } }),
            );
        } else {
            handle.seed_resource(
                &id,
                json!({ "location": "westus",
                "properties": { "principalId": "p", "clientId": "c" } }),
            );
        }
    }
}

fn collect_ids(value: &Value, out: &mut Vec<String>) {
    let is_id = |s: &str| {
        s.to_ascii_lowercase().starts_with("/subscriptions/")
            && s.to_ascii_lowercase().contains("/providers/")
    };
    match value {
        Value::String(s) if is_id(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_ids(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                if is_id(k) {
                    out.push(k.clone());
                }
                collect_ids(v, out);
            }
        }
        _ => {}
    }
}

/// A minimal valid PUT body for a resource type (the last type segment of its path).
fn minimal_body(rtype: &str, name: &str) -> Value {
    match rtype {
        "virtualnetworks" => {
            json!({ "location": "westus",
                "properties": { "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] } } })
        }
        "subnets" => json!({ "properties": { "addressPrefix": "10.0.0.0/24" } }),
        "securityrules" => {
            json!({ "properties": { "protocol": "*", "access": "Allow", "direction": "Inbound",
                "priority": 100,
            "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": "*",
                "destinationAddressPrefix": "*" } })
        }
        "vaults" => {
            json!({ "location": "westus", "properties": { "tenantId": common::TENANT,
                "sku": { "family": "A", "name": "premium" } } })
        }
        "keys" => json!({ "properties": { "kty": "RSA" } }),
        "containergroups" | "containers" => {
            json!({ "location": "westus", "properties": { "osType": "Linux",
            "containers": [{ "name": name, "properties": { "image": "nginx",
                "resources": { "requests": { "cpu": 1, "memoryInGB": 1.5 } } } }] } })
        }
        "virtualmachines" => {
            json!({ "location": "westus",
                "properties": { "hardwareProfile": { "vmSize": "Standard_D2s_v3" } } })
        }
        "roleassignments" => {
            json!({ "properties": { "roleDefinitionId": ROLE_DEFINITION,
            "principalId": "ce2ce14e-85d7-4629-bdbc-454d0519d987" } })
        }
        _ => json!({ "location": "westus" }),
    }
}

/// Makes sure the resource at `path` exists (parents first); returns the body of the
/// seeding response.
async fn ensure(handle: &SimHandle, path: &str, hint: Option<Value>) -> Value {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments.len() < 4 {
        return Value::Null;
    }
    let rtype = segments[segments.len() - 2].to_ascii_lowercase();
    let name = segments[segments.len() - 1];
    let parent = segments[..segments.len() - 2].join("/");

    if rtype == "resourcegroups" {
        return handle.seed_request("PUT", path, json!({ "location": "westus" })).await.unwrap();
    }
    if let Some(at) = segments.iter().position(|s| s.eq_ignore_ascii_case("resourceGroups")) {
        let group = format!("/{}", segments[..at + 2].join("/"));
        Box::pin(ensure(handle, &group, None)).await;
    }
    if rtype == "roleassignments" {
        ensure_scope(handle, path).await;
    }
    let is_child =
        matches!(rtype.as_str(), "subnets" | "securityrules" | "keys" | "versions" | "containers");
    if is_child {
        Box::pin(ensure(handle, &format!("/{parent}"), None)).await;
    }
    if rtype == "versions" {
        return Value::Null;
    }
    if rtype == "containers" {
        return handle
            .seed_request("PUT", &format!("/{parent}"), minimal_body(&rtype, name))
            .await
            .unwrap();
    }

    let body = hint.unwrap_or_else(|| minimal_body(&rtype, name));
    seed_references(handle, &body, path);
    handle.seed_request("PUT", path, body).await.unwrap_or_else(|e| panic!("seeding {path}: {e}"))
}

/// Creates the scope of a role assignment: its group, and a stand-in resource when the
/// scope is a resource of a type the sim does not implement.
async fn ensure_scope(handle: &SimHandle, assignment_path: &str) {
    let scope =
        assignment_path.split("/providers/Microsoft.Authorization").next().unwrap_or_default();
    let segments: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
    if let Some(at) = segments.iter().position(|s| s.eq_ignore_ascii_case("resourceGroups")) {
        let group = format!("/{}", segments[..at + 2].join("/"));
        handle.seed_request("PUT", &group, json!({ "location": "westus" })).await.unwrap();
    }
    if segments.len() > 4 {
        handle.seed_resource(scope, json!({ "location": "westus" }));
    }
}

/// Path of the resource an operation works on: the template up to its last placeholder.
fn target_of(template: &str, path_params: &serde_json::Map<String, Value>) -> String {
    let end = template.rfind('}').map_or(template.len(), |i| i + 1);
    format!("/{}", fill(&template[..end], path_params).trim_start_matches('/'))
}

struct Prepared {
    url: String,
    body: Option<Value>,
    /// Parameters replaced by generated values (key versions): (example value, sent value).
    renamed: Vec<(String, String)>,
}

/// Creates what the example needs and builds its request.
async fn prepare(handle: &SimHandle, example: &Example) -> Prepared {
    let mut params = example.params.clone();
    let in_path = placeholders(&example.template);
    let mut body =
        params.iter().find(|(k, v)| v.is_object() && !in_path.contains(k)).map(|(_, v)| v.clone());
    let data_plane = params.contains_key("vaultBaseUrl");

    // Some examples put body fields such as `zones` beside the body instead of inside it.
    if let Some(Value::Object(fields)) = body.as_mut() {
        for (k, v) in params.iter().filter(|(_, v)| v.is_array()) {
            fields.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // One example carries an unevaluated ARM template expression as a subnet id; a real
    // request carries the id itself.
    if let Some(body) = body.as_mut() {
        replace_template_expressions(handle, body).await;
    }

    if data_plane {
        prepare_data_plane(handle, example, &mut params).await;
    } else {
        prepare_arm(handle, example, &mut params).await;
    }
    if let Some(body) = &body {
        seed_references(handle, body, &target_of(&example.template, &params));
    }

    let path = fill(&example.template, &params);
    let path = format!("/{}", path.trim_start_matches('/'));
    let mut query: Vec<String> = params
        .iter()
        .filter(|(k, _)| !in_path.contains(k) && k.as_str() != "vaultBaseUrl")
        .filter_map(|(k, _)| param_str(&params, k).map(|v| format!("{k}={v}")))
        .collect();
    query.sort();
    let base = if data_plane {
        let host = params["vaultBaseUrl"].as_str().unwrap().trim_start_matches("https://");
        handle.keyvault_endpoint_for(host.split('.').next().unwrap())
    } else {
        handle.arm_endpoint()
    };
    let renamed = example
        .params
        .iter()
        .filter_map(|(k, v)| Some((v.as_str()?.to_string(), param_str(&params, k)?)))
        .filter(|(old, new)| old != new)
        .collect();
    Prepared { url: format!("{base}{path}?{}", query.join("&")), body, renamed }
}

async fn replace_template_expressions(handle: &SimHandle, value: &mut Value) {
    match value {
        Value::String(s) if s.starts_with("[resourceId(") => {
            let vnet = format!(
                "/subscriptions/{}/resourceGroups/demo\
                 /providers/Microsoft.Network/virtualNetworks/vnet",
                common::SUB
            );
            let subnet = format!("{vnet}/subnets/aci");
            handle.seed_resource(&vnet, json!({ "location": "westus" }));
            handle.seed_resource(
                &subnet,
                json!({ "properties": { "delegations": [
                common::aci_delegation("aci")] } }),
            );
            *s = subnet;
        }
        Value::Array(items) => {
            for item in items {
                Box::pin(replace_template_expressions(handle, item)).await;
            }
        }
        Value::Object(map) => {
            for item in map.values_mut() {
                Box::pin(replace_template_expressions(handle, item)).await;
            }
        }
        _ => {}
    }
}

async fn prepare_arm(
    handle: &SimHandle,
    example: &Example,
    params: &mut serde_json::Map<String, Value>,
) {
    let target = target_of(&example.template, params);
    let lower = target.to_ascii_lowercase();

    if lower.contains("/deletedvaults/") {
        handle.seed_deleted_vault(DeletedVaultSeed {
            subscription: param_str(params, "subscriptionId").unwrap(),
            resource_group: "sample-group".into(),
            name: param_str(params, "vaultName").unwrap(),
            location: param_str(params, "location").unwrap(),
            purge_protection: false,
            tags: json!({}),
            premium: true,
        });
        return;
    }
    if example.file.ends_with("listDeletedVaults.json") {
        let sub = param_str(params, "subscriptionId").unwrap();
        let seed = DeletedVaultSeed {
            subscription: sub,
            resource_group: "g".into(),
            name: "sample-vault".into(),
            location: "westus".into(),
            purge_protection: true,
            tags: json!({}),
            premium: false,
        };
        handle.seed_deleted_vault(seed);
        return;
    }

    if example.method == "PUT" {
        // The resource itself is created by the example; only its parents must exist.
        let segments: Vec<&str> = target.trim_start_matches('/').split('/').collect();
        if segments.len() > 4 {
            let rtype = segments[segments.len() - 2].to_ascii_lowercase();
            let parent = format!("/{}", segments[..segments.len() - 2].join("/"));
            if rtype == "roleassignments" {
                ensure_scope(handle, &target).await;
            } else if matches!(rtype.as_str(), "subnets" | "securityrules" | "keys") {
                ensure(handle, &parent, None).await;
            } else if let Some(at) =
                segments.iter().position(|s| s.eq_ignore_ascii_case("resourceGroups"))
            {
                ensure(handle, &format!("/{}", segments[..at + 2].join("/")), None).await;
            }
        }
        return;
    }
    if lower.ends_with("/providers/microsoft.keyvault/checknameavailability")
        || target.matches('/').count() <= 2
    {
        return;
    }

    let hint = if example.method == "GET" || example.method == "DELETE" {
        success_body(example)
    } else {
        None
    };
    let seeded = ensure(handle, &target, hint).await;
    if let Some(version) = seeded.pointer("/properties/keyUriWithVersion").and_then(Value::as_str) {
        let version = version.rsplit('/').next().unwrap().to_string();
        if params.contains_key("keyVersion") {
            params.insert("keyVersion".into(), json!(version));
        }
    }
    if lower.contains("/keys/") && params.contains_key("keyVersion") {
        let key_path =
            target.rsplit_once("/versions/").map(|(k, _)| k.to_string()).unwrap_or(target.clone());
        let key = handle
            .seed_request("GET", &format!("{key_path}?api-version=2023-07-01"), Value::Null)
            .await
            .unwrap();
        let version = key["properties"]["keyUriWithVersion"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        params.insert("keyVersion".into(), json!(version));
    }
}

async fn prepare_data_plane(
    handle: &SimHandle,
    example: &Example,
    params: &mut serde_json::Map<String, Value>,
) {
    let host = params["vaultBaseUrl"].as_str().unwrap().trim_start_matches("https://").to_string();
    let vault = host.split('.').next().unwrap().to_string();
    let group = format!("/subscriptions/{}/resourceGroups/kv", common::SUB);
    handle.seed_request("PUT", &group, json!({ "location": "westus" })).await.unwrap();
    let vault_path = format!("{group}/providers/Microsoft.KeyVault/vaults/{vault}");
    handle.seed_request("PUT", &vault_path, minimal_body("vaults", &vault)).await.unwrap();

    if example.template.ends_with("/create") {
        return;
    }
    let key = param_str(params, "key-name").unwrap();
    let create = json!({ "kty": "RSA-HSM", "key_size": 2048, "attributes": { "exportable": true },
        "release_policy": { "contentType": "application/json; \
            charset=utf-8", "data": common::release_policy_b64() } });
    let created = handle
        .seed_request("POST", &format!("/kv/{vault}/keys/{key}/create?api-version=7.5"), create)
        .await
        .unwrap();
    let version = created["key"]["kid"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    if params.contains_key("key-version") {
        params.insert("key-version".into(), json!(version));
    }
    if example.template.starts_with("/deletedkeys") {
        handle
            .seed_request("DELETE", &format!("/kv/{vault}/keys/{key}?api-version=7.5"), Value::Null)
            .await
            .unwrap();
    }
}

/// Checks one example; returns a description of each mismatch.
async fn replay(example: &Example) -> Vec<String> {
    let config = SimConfig {
        tenant_id: common::TENANT.into(),
        container_listeners: false,
        ..SimConfig::default()
    };
    let sim = common::start_with(config).await;
    let prepared = prepare(&sim.handle, example).await;

    let method = reqwest::Method::from_bytes(example.method.as_bytes()).unwrap();
    let mut request = sim.client.request(method, &prepared.url).bearer_auth("fixture");
    if let Some(body) = &prepared.body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16().to_string();
    let text = response.text().await.unwrap();
    let body: Value =
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };

    let mut problems = Vec::new();
    let Some(expected) = example.responses.get(&status) else {
        let listed: Vec<&String> = example.responses.keys().filter(|k| *k != "default").collect();
        problems.push(format!("status {status} not in {listed:?}: {body}"));
        return problems;
    };
    let Some(expected_body) = expected.get("body").and_then(Value::as_object) else {
        return problems;
    };

    for key in expected_body.keys() {
        if body.get(key).is_none() && !PAGINATION_KEYS.contains(&key.as_str()) {
            problems.push(format!("missing top-level key '{key}'"));
        }
    }
    if let Some(t) = expected_body.get("type").and_then(Value::as_str)
        && !body["type"].as_str().is_some_and(|b| b.eq_ignore_ascii_case(t))
    {
        problems.push(format!("type {} != {t}", body["type"]));
    }
    // Some examples name a resource differently in the URL and the body; the URL wins.
    let names: Vec<String> =
        example.params.keys().filter_map(|k| param_str(&example.params, k)).collect();
    if let Some(name) = expected_body.get("name").and_then(Value::as_str)
        && names.iter().any(|n| n == name)
    {
        let sent = prepared
            .renamed
            .iter()
            .find(|(old, _)| old == name)
            .map_or(name, |(_, new)| new.as_str());
        if body["name"] != sent {
            problems.push(format!("name {} != {sent}", body["name"]));
        }
    }
    problems
}

#[tokio::test]
async fn published_examples_replay_with_listed_statuses_and_shapes() {
    let examples = load_examples();
    assert!(examples.len() >= 70, "expected the full example set, found {}", examples.len());

    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for example in &examples {
        let problems = replay(example).await;
        if !problems.is_empty() {
            failures.insert(example.file.clone(), problems);
        }
    }

    let report: Vec<String> =
        failures.iter().map(|(f, p)| format!("{f}: {}", p.join("; "))).collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples failed:\n{}",
        failures.len(),
        examples.len(),
        report.join("\n")
    );
}

#[test]
fn fixture_directory_is_beside_the_repository() {
    let resolved: PathBuf = Path::new(FIXTURES).canonicalize().unwrap();
    assert!(resolved.ends_with("shared/fixtures/arm"), "{}", resolved.display());
}

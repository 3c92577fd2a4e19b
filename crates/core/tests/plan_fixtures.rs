//! Our PUT bodies against Microsoft's published API: every property we set exists at that
//! path in the operation's OpenAPI schema (with the right JSON type, a listed enum value,
//! and not read-only), and where an example request body sets the same path, it has the
//! same shape there.
//!
//! The fixtures live in the shared reference folder (see `plan_support::fixtures_dir`).

mod plan_support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use plan_support::*;
use polaris_core::plan::{Plan, StepKind};
use serde_json::{Value, json};

/// Loads spec files once and resolves `$ref`s between them.
struct Schemas {
    root: PathBuf,
    files: HashMap<PathBuf, Value>,
}

/// A schema node together with the file its relative `$ref`s resolve against.
#[derive(Clone)]
struct Node {
    file: PathBuf,
    schema: Value,
}

impl Schemas {
    fn new(root: PathBuf) -> Self {
        Self { root, files: HashMap::new() }
    }

    fn file(&mut self, path: &Path) -> &Value {
        self.files.entry(path.to_owned()).or_insert_with(|| {
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).unwrap()
        })
    }

    /// Follows `$ref` until a concrete schema.
    fn deref(&mut self, node: &Node) -> Node {
        let mut node = node.clone();
        for _ in 0..32 {
            let Some(reference) = node.schema.get("$ref").and_then(Value::as_str) else {
                return node;
            };
            let (file_part, pointer) = reference.split_once('#').unwrap_or((reference, ""));
            let file = if file_part.is_empty() {
                node.file.clone()
            } else if let Some(rest) = file_part.split("common-types/resource-management/").nth(1) {
                self.root.join("_common-types/resource-management").join(rest)
            } else {
                let name = Path::new(file_part).file_name().unwrap();
                node.file.parent().unwrap().join(name)
            };
            let schema = self.file(&file).pointer(pointer).cloned();
            let schema = schema.unwrap_or_else(|| panic!("unresolved $ref {reference}"));
            node = Node { file, schema };
        }
        panic!("$ref chain too long")
    }

    /// Schemas a property `key` may have, searching `properties`, then `allOf` members,
    /// then `additionalProperties`.
    fn property(&mut self, node: &Node, key: &str) -> Option<Node> {
        let node = self.deref(node);
        if let Some(prop) = node.schema.get("properties").and_then(|p| p.get(key)) {
            return Some(Node { file: node.file.clone(), schema: prop.clone() });
        }
        for part in node.schema.get("allOf").and_then(Value::as_array).cloned().unwrap_or_default()
        {
            let part = Node { file: node.file.clone(), schema: part };
            if let Some(found) = self.property(&part, key) {
                return Some(found);
            }
        }
        match node.schema.get("additionalProperties") {
            Some(extra @ Value::Object(_)) => Some(Node { file: node.file, schema: extra.clone() }),
            _ => None,
        }
    }

    /// Checks `value` against `node`, collecting one message per problem.
    fn check(&mut self, node: &Node, value: &Value, path: &str, problems: &mut Vec<String>) {
        let node = self.deref(node);
        let schema = node.schema.clone();
        if schema.get("readOnly") == Some(&json!(true)) {
            problems.push(format!("{path}: read-only property"));
        }
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            let ok = match expected {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                _ => true,
            };
            if !ok {
                problems.push(format!("{path}: expected {expected}, found {value}"));
            }
        }
        // Open enums (`modelAsString`) list examples, not limits (VM sizes, for one).
        let open_enum = schema.pointer("/x-ms-enum/modelAsString") == Some(&json!(true));
        let options = schema.get("enum").and_then(Value::as_array).filter(|_| !open_enum);
        if let (Some(options), Some(text)) = (options, value.as_str())
            && !options.iter().any(|o| o == text)
        {
            problems.push(format!("{path}: `{text}` not in {options:?}"));
        }

        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let child_path = format!("{path}.{key}");
                    match self.property(&node, key) {
                        Some(prop) => self.check(&prop, child, &child_path, problems),
                        None => problems.push(format!("{child_path}: not in the schema")),
                    }
                }
            }
            Value::Array(items) => {
                let item_schema = self.items(&node);
                for (i, item) in items.iter().enumerate() {
                    match &item_schema {
                        Some(s) => self.check(s, item, &format!("{path}[{i}]"), problems),
                        None => problems.push(format!("{path}: array without item schema")),
                    }
                }
            }
            _ => {}
        }
    }

    fn items(&mut self, node: &Node) -> Option<Node> {
        let node = self.deref(node);
        if let Some(items) = node.schema.get("items") {
            return Some(Node { file: node.file, schema: items.clone() });
        }
        for part in node.schema.get("allOf").and_then(Value::as_array).cloned().unwrap_or_default()
        {
            if let Some(found) = self.items(&Node { file: node.file.clone(), schema: part }) {
                return Some(found);
            }
        }
        None
    }

    /// The PUT operation whose path template matches `id`, in the provider's spec files:
    /// (spec file, operationId, body parameter name, body schema).
    fn put_operation(&mut self, folder: &Path, id: &str) -> (PathBuf, String, String, Node) {
        let spec_dir = folder.join("spec");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&spec_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", spec_dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        let id_segments: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();

        for file in files {
            let paths = self.file(&file).get("paths").cloned().unwrap_or_default();
            for (template, ops) in paths.as_object().into_iter().flatten() {
                let Some(put) = ops.get("put") else { continue };
                let template: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
                if !matches(&template, &id_segments) {
                    continue;
                }
                for param in put["parameters"].as_array().unwrap() {
                    let param = self.deref(&Node { file: file.clone(), schema: param.clone() });
                    if param.schema["in"] == "body" {
                        let name = param.schema["name"].as_str().unwrap().to_owned();
                        let body = Node {
                            file: param.file.clone(),
                            schema: param.schema["schema"].clone(),
                        };
                        let op = put["operationId"].as_str().unwrap().to_owned();
                        return (file.clone(), op, name, body);
                    }
                }
            }
        }
        panic!("no PUT operation for {id} in {}", spec_dir.display())
    }
}

/// Path template matching: `{scope}` spans one or more segments, other parameters one.
fn matches(template: &[&str], id: &[&str]) -> bool {
    match (template.first(), id.first()) {
        (None, None) => true,
        (Some(&"{scope}"), Some(_)) => (1..=id.len()).any(|n| matches(&template[1..], &id[n..])),
        (Some(t), Some(_)) if t.starts_with('{') => matches(&template[1..], &id[1..]),
        (Some(t), Some(s)) => t.eq_ignore_ascii_case(s) && matches(&template[1..], &id[1..]),
        _ => false,
    }
}

/// `Microsoft.X/<api-version>` for an ARM id: the last provider namespace, or Resources.
fn provider_folder(root: &Path, id: &str, api_version: &str) -> PathBuf {
    let segments: Vec<&str> = id.split('/').collect();
    let namespace = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
        .map_or("Microsoft.Resources", |i| segments[i + 1]);
    root.join(namespace).join(api_version)
}

/// Leaf shapes by path, arrays collapsed to `[]`, for comparing with examples.
fn shapes(value: &Value, path: String, out: &mut BTreeMap<String, &'static str>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.insert(path.clone(), kind);
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                shapes(v, format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => {
            for item in items {
                shapes(item, format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// Request bodies of the fixture examples for `operation_id`.
fn example_bodies(folder: &Path, operation_id: &str, param: &str) -> Vec<(String, Value)> {
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(folder.parent().unwrap().parent().unwrap().join("index.json"))
            .unwrap(),
    )
    .unwrap();
    let folder_name = format!(
        "{}/{}",
        folder.parent().unwrap().file_name().unwrap().to_str().unwrap(),
        folder.file_name().unwrap().to_str().unwrap()
    );
    let mut out = Vec::new();
    for file in index["files"].as_array().unwrap() {
        let name = file["file"].as_str().unwrap();
        let operations = file["operations"].as_array().cloned().unwrap_or_default();
        let is_op = operations.iter().any(|o| o["operationId"] == operation_id);
        if file["kind"] == "example" && is_op && name.starts_with(&folder_name) {
            let root = folder.parent().unwrap().parent().unwrap();
            let example: Value =
                serde_json::from_str(&std::fs::read_to_string(root.join(name)).unwrap()).unwrap();
            if let Some(body) = example["parameters"].get(param) {
                out.push((name.to_owned(), body.clone()));
            }
        }
    }
    out
}

/// Every PUT body in a plan with its id and api-version.
fn bodies(plan: &Plan) -> Vec<(String, String, String, Value)> {
    plan.steps
        .iter()
        .filter_map(|s| {
            let arm = match &s.kind {
                StepKind::Arm(r) => r,
                StepKind::Vault(v) => &v.arm,
                StepKind::Key(k) => &k.arm,
                _ => return None,
            };
            Some((s.name.to_string(), arm.id.clone(), arm.api_version.clone(), arm.body.clone()))
        })
        .collect()
}

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";

/// Plans that between them set every property we ever send.
fn sample_plans() -> Vec<Plan> {
    let specs = [
        with(json!({
            "networking_type": "Private",
            "polaris_proxy_source_ranges": ["203.0.113.0/24"],
            "key_vault_purge_protection": true,
            "tags": { "team": "ml" },
            "cce_policy": ALLOW_ALL_CCE,
            "workload_image": format!("myreg.azurecr.io/app@{DIGEST}"),
            "polaris_proxy_image_version": DIGEST,
            "skr_sidecar_image": format!("mcr.microsoft.com/aci/skr:2.7@{DIGEST}"),
            "registry_login_server": "myreg.azurecr.io",
            "registry_username": "u",
            "registry_password": "p",
            "workload_arguments": ["serve"],
            "workload_env_vars": { "A": "1", "S": { "value": "s", "secret": true } }
        })),
        with(json!({
            "enable_key_vault": false,
            "dns_name_label": "my-endpoint",
            "container_cpu": 1.5
        })),
        with(json!({
            "compute_target": "confidential_vm",
            "location": "eastus2",
            "dns_name_label": "my-vm",
            "vm": {
                "ssh_public_key": SSH_KEY,
                "zone": "1",
                "ssh_source_ranges": ["203.0.113.7/32"]
            }
        })),
        with(json!({
            "compute_target": "confidential_vm",
            "location": "eastus2",
            "vm": {
                "ssh_public_key": SSH_KEY,
                "image_id": "Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest"
            }
        })),
    ];
    specs.iter().map(plan).collect()
}

#[test]
fn every_body_property_exists_in_the_published_schema() {
    let root = fixtures_dir();
    let mut schemas = Schemas::new(root.clone());
    let mut problems = Vec::new();
    let mut checked = Vec::new();

    for plan in sample_plans() {
        for (step, id, api, body) in bodies(&plan) {
            let folder = provider_folder(&root, &id, &api);
            let (_, op, _, schema) = schemas.put_operation(&folder, &id);
            schemas.check(&schema, &body, &format!("{step}({op})"), &mut problems);
            checked.push(op);
        }
    }

    assert!(problems.is_empty(), "schema mismatches:\n{}", problems.join("\n"));
    checked.sort();
    checked.dedup();
    for op in [
        "ResourceGroups_CreateOrUpdate",
        "NetworkSecurityGroups_CreateOrUpdate",
        "VirtualNetworks_CreateOrUpdate",
        "Subnets_CreateOrUpdate",
        "PublicIPAddresses_CreateOrUpdate",
        "NetworkInterfaces_CreateOrUpdate",
        "UserAssignedIdentities_CreateOrUpdate",
        "Vaults_CreateOrUpdate",
        "Keys_CreateIfNotExist",
        "RoleAssignments_Create",
        "ContainerGroups_CreateOrUpdate",
        "VirtualMachines_CreateOrUpdate",
    ] {
        assert!(checked.iter().any(|c| c == op), "{op} not covered: {checked:?}");
    }
}

#[test]
fn shared_paths_have_the_example_bodies_shape() {
    let root = fixtures_dir();
    let mut schemas = Schemas::new(root.clone());
    let mut problems = Vec::new();
    let mut overlap: BTreeMap<String, usize> = BTreeMap::new();

    for plan in sample_plans() {
        for (step, id, api, body) in bodies(&plan) {
            let folder = provider_folder(&root, &id, &api);
            let (_, op, param, _) = schemas.put_operation(&folder, &id);
            let mut ours = BTreeMap::new();
            shapes(&body, String::new(), &mut ours);
            for (example, theirs_body) in example_bodies(&folder, &op, &param) {
                let mut theirs = BTreeMap::new();
                shapes(&theirs_body, String::new(), &mut theirs);
                for (path, kind) in &ours {
                    if let Some(their_kind) = theirs.get(path) {
                        *overlap.entry(op.clone()).or_default() += 1;
                        if kind != their_kind {
                            problems.push(format!(
                                "{step} {path}: ours {kind}, {example} {their_kind}"
                            ));
                        }
                    }
                }
            }
        }
    }

    assert!(problems.is_empty(), "shape mismatches:\n{}", problems.join("\n"));
    // The comparison is meaningful: each resource type shares paths with an example.
    for op in [
        "ContainerGroups_CreateOrUpdate",
        "NetworkSecurityGroups_CreateOrUpdate",
        "Vaults_CreateOrUpdate",
        "RoleAssignments_Create",
        "VirtualMachines_CreateOrUpdate",
        "NetworkInterfaces_CreateOrUpdate",
    ] {
        assert!(overlap.get(op).copied().unwrap_or(0) >= 3, "{op}: overlap {overlap:?}");
    }
}

#[test]
fn the_checker_catches_a_misplaced_property() {
    let root = fixtures_dir();
    let mut schemas = Schemas::new(root.clone());
    let plan = plan(&minimal());
    let (_, id, api, mut body) = bodies(&plan).into_iter().find(|b| b.0 == "vault").unwrap();
    // Where the module's TF code would put it wrongly, and with the wrong type.
    body["enablePurgeProtection"] = json!(true);
    body["properties"]["softDeleteRetentionInDays"] = json!("90");
    body["properties"]["sku"]["name"] = json!("platinum");
    let folder = provider_folder(&root, &id, &api);
    let (_, _, _, schema) = schemas.put_operation(&folder, &id);
    let mut problems = Vec::new();
    schemas.check(&schema, &body, "vault", &mut problems);
    assert_eq!(problems.len(), 3, "{problems:?}");
}

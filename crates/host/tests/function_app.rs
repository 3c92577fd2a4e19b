//! `host.json`, `functions/*/function.json` and the app settings, checked against the fixture
//! shapes and against each other.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use polaris_host::{FUNCTION_NAMES, FUNCTIONS, TriggerKind};
use serde_json::Value;

use support::json_shapes::{key_paths, parse_jsonc};
use support::{fixtures, read_json, read_text, repo_root};

/// Binding keys the fixtures do not show but the app uses, each with its documented reason.
const EXTRA_BINDING_KEYS: &[(&str, &str)] = &[
    // functions-bindings-http-webhook-trigger: `route` sets the URL template.
    ("httpTrigger", "route"),
];

/// function.json top-level keys: the fixtures show `bindings` and `disabled`; `retry` is the
/// documented per-function retry policy for timer triggers (functions-bindings-timer).
const FUNCTION_KEYS: &[&str] = &["bindings", "disabled", "retry"];

fn fixture_function_jsons() -> Vec<Value> {
    let mut files: Vec<_> = fs::read_dir(fixtures().join("functions/function-json"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let layout = fixtures().join("functions/app-layout.assembled");
    for entry in fs::read_dir(&layout).unwrap() {
        let candidate = entry.unwrap().path().join("function.json");
        if candidate.is_file() {
            files.push(candidate);
        }
    }
    files.iter().map(|path| read_json(path)).collect()
}

/// For each binding type seen in the fixtures: the keys used with it and its directions.
fn fixture_binding_shapes() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let mut shapes: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for function in fixture_function_jsons() {
        for binding in function["bindings"].as_array().unwrap() {
            let kind = binding["type"].as_str().unwrap().to_owned();
            let shape = shapes.entry(kind).or_default();
            shape.0.extend(binding.as_object().unwrap().keys().cloned());
            shape.1.insert(binding["direction"].as_str().unwrap().to_owned());
        }
    }
    shapes
}

fn our_function_json(name: &str) -> Value {
    read_json(&repo_root().join("functions").join(name).join("function.json"))
}

fn local_settings() -> serde_json::Map<String, Value> {
    let example = read_json(&repo_root().join("local.settings.json.example"));
    example["Values"].as_object().expect("Values object").clone()
}

#[test]
fn function_folders_match_function_names() {
    let mut folders: Vec<String> = fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    folders.sort();
    let mut names: Vec<&str> = FUNCTION_NAMES.to_vec();
    names.sort();

    assert_eq!(folders, names);
}

#[test]
fn bindings_use_fixture_types_keys_and_directions() {
    let shapes = fixture_binding_shapes();

    for name in FUNCTION_NAMES {
        let function = our_function_json(name);
        for key in function.as_object().unwrap().keys() {
            assert!(FUNCTION_KEYS.contains(&key.as_str()), "{name}: top-level key {key}");
        }

        for binding in function["bindings"].as_array().unwrap() {
            let kind = binding["type"].as_str().unwrap();
            let (keys, directions) =
                shapes.get(kind).unwrap_or_else(|| panic!("{name}: no fixture uses {kind}"));
            let direction = binding["direction"].as_str().unwrap();
            assert!(directions.contains(direction), "{name}: {kind} with direction {direction}");
            assert!(binding["name"].is_string(), "{name}: binding without a name");

            for key in binding.as_object().unwrap().keys() {
                let extra = EXTRA_BINDING_KEYS.contains(&(kind, key.as_str()));
                assert!(keys.contains(key) || extra, "{name}: {kind} binding key {key}");
            }
        }
    }
}

#[test]
fn each_function_has_the_declared_trigger_and_binding_name() {
    for def in FUNCTIONS {
        let function = our_function_json(def.name);
        let bindings = function["bindings"].as_array().unwrap();
        let triggers: Vec<&Value> =
            bindings.iter().filter(|b| b["type"].as_str().unwrap().ends_with("Trigger")).collect();
        assert_eq!(triggers.len(), 1, "{}: exactly one trigger", def.name);

        let expected_type = match def.trigger {
            TriggerKind::ServiceBus => "serviceBusTrigger",
            TriggerKind::Http => "httpTrigger",
            TriggerKind::Timer => "timerTrigger",
            TriggerKind::EventGrid => "eventGridTrigger",
        };
        assert_eq!(triggers[0]["type"], expected_type, "{}", def.name);
        assert_eq!(triggers[0]["name"], def.binding, "{}", def.name);
        assert_eq!(triggers[0]["direction"], "in", "{}", def.name);
    }
}

/// Forwarding applies only to HTTP-only functions: one `httpTrigger` in, one `http` out.
#[test]
fn the_api_function_is_http_only_so_forwarding_applies() {
    let function = our_function_json("DeploymentsApi");
    let bindings = function["bindings"].as_array().unwrap();
    let kinds: Vec<(&str, &str)> = bindings
        .iter()
        .map(|b| (b["type"].as_str().unwrap(), b["direction"].as_str().unwrap()))
        .collect();

    assert_eq!(kinds, [("httpTrigger", "in"), ("http", "out")]);
    assert_eq!(bindings[0]["authLevel"], "function");
    assert_eq!(bindings[0]["route"], "{*path}");
    let methods: Vec<&str> =
        bindings[0]["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(methods, ["get", "post", "delete"]);
}

#[test]
fn the_worker_uses_an_identity_based_service_bus_connection() {
    let function = our_function_json("SagaWorker");
    let trigger = &function["bindings"][0];
    let settings = local_settings();

    assert_eq!(trigger["queueName"], "%POLARIS_QUEUE_NAME%");
    assert_eq!(trigger["connection"], "ServiceBusConnection");
    assert!(settings.contains_key("ServiceBusConnection__fullyQualifiedNamespace"));
    assert!(!settings.contains_key("ServiceBusConnection"), "no connection string");
}

#[test]
fn timer_schedules_come_from_six_field_settings() {
    let settings = local_settings();
    for (name, setting) in [
        ("RotateKeys", "POLARIS_ROTATION_SCHEDULE"),
        ("RecoverySweeper", "POLARIS_SWEEPER_SCHEDULE"),
    ] {
        let function = our_function_json(name);
        let trigger = &function["bindings"][0];
        assert_eq!(trigger["schedule"], format!("%{setting}%"), "{name}");
        assert_eq!(trigger["runOnStartup"], false, "{name}: never fire on scale-out");

        let schedule = settings[setting].as_str().unwrap();
        assert_eq!(schedule.split_whitespace().count(), 6, "{setting}: NCRONTAB with seconds");
    }
}

#[test]
fn every_percent_setting_is_defined_locally() {
    let settings = local_settings();
    let mut texts = vec![read_text(&repo_root().join("host.json"))];
    texts.extend(FUNCTION_NAMES.iter().map(|name| our_function_json(name).to_string()));

    for text in texts {
        for (index, part) in text.split('%').enumerate() {
            let is_name = index % 2 == 1 && part.chars().all(|c| c.is_alphanumeric() || c == '_');
            if is_name && !part.is_empty() {
                assert!(settings.contains_key(part), "%{part}% is not in local settings");
            }
        }
    }
}

fn fixture_host_jsons() -> Vec<(String, Value)> {
    let dir = fixtures().join("functions/host-json");
    let mut docs = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = read_text(&path);
        let value = if name.ends_with(".fragment.txt") {
            parse_jsonc(&format!("{{{text}}}"))
        } else {
            parse_jsonc(&text)
        };
        docs.push((name, value));
    }
    docs.push((
        "app-layout".into(),
        read_json(&fixtures().join("functions/app-layout.assembled/host.json")),
    ));
    docs
}

#[test]
fn host_json_keys_all_appear_in_fixtures() {
    let ours = key_paths(&read_json(&repo_root().join("host.json")));
    let mut known = BTreeSet::new();
    for (_, doc) in fixture_host_jsons() {
        known.extend(key_paths(&doc));
    }

    for path in ours {
        // Log categories are open-ended: functions-host-json documents
        // `logging.logLevel.<category>`.
        let category = path.starts_with("logging.logLevel.");
        assert!(known.contains(&path) || category, "host.json key {path} is in no fixture");
    }
}

#[test]
fn host_json_configures_the_custom_handler() {
    let host = read_json(&repo_root().join("host.json"));
    let bundle_fixture = fixture_host_jsons()
        .into_iter()
        .find(|(name, _)| name == "host.docs-functions-custom-handlers.with-bundle-v4.json")
        .unwrap()
        .1;

    assert_eq!(host["version"], "2.0");
    assert_eq!(host["extensionBundle"], bundle_fixture["extensionBundle"]);
    let handler = &host["customHandler"];
    assert_eq!(handler["description"]["defaultExecutablePath"], "polaris");
    assert_eq!(handler["description"]["arguments"], serde_json::json!(["serve"]));
    assert_eq!(handler["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api");
    assert_eq!(host["functionTimeout"], "00:10:00");
}

#[test]
fn service_bus_settings_match_extension_v5_types_and_values() {
    let host = read_json(&repo_root().join("host.json"));
    let fixture = fixtures().join(
        "functions/host-json/host.docs-functions-bindings-service-bus.extension-v5-settings.json",
    );
    let documented = read_json(&fixture)["extensions"]["serviceBus"].clone();
    let ours = host["extensions"]["serviceBus"].as_object().unwrap();

    for (key, value) in ours {
        let reference = &documented[key];
        let same_type = std::mem::discriminant(value) == std::mem::discriminant(reference);
        assert!(same_type, "serviceBus.{key}: {value} vs documented {reference}");
    }
    assert_eq!(ours["autoCompleteMessages"], true, "custom handlers cannot settle messages");
    assert_eq!(ours["maxAutoLockRenewalDuration"], "00:05:00");
    assert_eq!(ours["maxConcurrentCalls"], 16);
    assert_eq!(ours["prefetchCount"], 0);

    let renewal = minutes(ours["maxAutoLockRenewalDuration"].as_str().unwrap());
    let timeout = minutes(host["functionTimeout"].as_str().unwrap());
    assert!(renewal <= timeout, "lock renewal must not outlive the function timeout");
}

fn minutes(timespan: &str) -> u32 {
    let parts: Vec<u32> = timespan.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 60 + parts[1]
}

/// Each local setting is explained in the README table, and each is set by `infra/` unless
/// the platform provides it another way.
#[test]
fn every_setting_is_documented_and_provisioned() {
    let readme = read_text(&repo_root().join("functions/README.md"));
    let documented: BTreeSet<String> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .filter(|key| !FUNCTION_NAMES.contains(&key.as_str()))
        .collect();
    let settings: BTreeSet<String> = local_settings().keys().cloned().collect();
    assert_eq!(documented, settings, "README app-settings table and local settings differ");

    let infra = infra_text();
    // Flex sets the worker runtime from `runtime_name`, and Application Insights from
    // `site_config`; neither may be repeated as an app setting.
    let platform = ["FUNCTIONS_WORKER_RUNTIME", "APPLICATIONINSIGHTS_CONNECTION_STRING"];
    for key in settings.iter().filter(|key| !platform.contains(&key.as_str())) {
        assert!(infra.contains(key.as_str()), "infra/ does not set {key}");
    }
}

fn infra_text() -> String {
    let dir = repo_root().join("infra");
    let mut text = String::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "tf") {
            text.push_str(&read_text(&path));
        }
    }
    text
}

/// `.funcignore` keeps at least what the assembled app layout ignores, plus our own sources.
#[test]
fn funcignore_covers_the_fixture_and_our_sources() {
    let lines = |text: String| -> BTreeSet<String> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    let ours = lines(read_text(&repo_root().join(".funcignore")));
    let fixture = lines(read_text(&fixtures().join("functions/app-layout.assembled/.funcignore")));

    assert!(fixture.is_subset(&ours), "missing: {:?}", fixture.difference(&ours));
    for entry in ["target", "src", "crates", "tests", "local.settings.json"] {
        assert!(ours.contains(entry), ".funcignore lacks {entry}");
    }
}

//! Issue 2: every bad field of a spec gets its own error message naming it, a spec with
//! several bad fields lists them all, and a refused spec leaves no trace: nothing stored,
//! nothing sent, no request to (simulated) Azure.

mod support;

use std::collections::BTreeSet;

use polaris::error::WorkerError;
use polaris_core::spec::SpecErrors;
use serde_json::{Value, json};
use support::{Harness, Setup, example, with};

/// One bad value and the fields whose errors it must produce (registry credentials and an
/// existing VNet's names are all-or-none, so one omission is reported on each missing field).
struct Case {
    changes: Value,
    fields: &'static [&'static str],
    /// False when the value switches other rules off (an existing VNet skips the address
    /// checks), so it cannot join the all-at-once spec.
    combines: bool,
}

fn case(changes: Value, fields: &'static [&'static str]) -> Case {
    Case { changes, fields, combines: true }
}

/// Bad values on the public, standard example.
fn public_cases() -> Vec<Case> {
    vec![
        case(json!({"name": "!!!"}), &["name"]),
        case(json!({"location": "atlantis"}), &["location"]),
        case(json!({"subscription_id": "not-a-guid"}), &["subscription_id"]),
        case(json!({"container_cpu": 0}), &["container_cpu"]),
        case(json!({"container_memory": 4.05}), &["container_memory"]),
        case(json!({"polaris_proxy_port": 70000}), &["polaris_proxy_port"]),
        case(json!({"workload_port": 3000}), &["workload_port"]),
        case(json!({"networking_type": "Hybrid"}), &["networking_type"]),
        case(json!({"dns_name_label": "Bad_Label"}), &["dns_name_label"]),
        case(
            json!({"polaris_proxy_source_ranges": ["10.0.0.0/8"]}),
            &["polaris_proxy_source_ranges"],
        ),
        case(json!({"workload_image": "registry.io/Team/Img:1"}), &["workload_image"]),
        case(
            json!({"registry_username": "puller"}),
            &["registry_login_server", "registry_password"],
        ),
        case(json!({"workload_env_vars": {"1BAD": "x"}}), &["workload_env_vars.1BAD"]),
        case(
            json!({"polaris_proxy_image_version": "sha256:xyz"}),
            &["polaris_proxy_image_version"],
        ),
        case(json!({"tags": {"polaris-deployment": "x"}}), &["tags.polaris-deployment"]),
        case(json!({"workload_imag": "typo"}), &["workload_imag"]),
        case(json!({"key_rotation_days": 3}), &["key_rotation_days"]),
        case(json!({"maa_endpoint": "not a host"}), &["maa_endpoint"]),
    ]
}

/// Bad values that only matter with Private networking (the private, enhanced example).
fn private_cases() -> Vec<Case> {
    vec![
        case(json!({"subnet_address_prefix": "10.99.1.0/24"}), &["subnet_address_prefix"]),
        case(
            json!({"vnet_address_space": ["10.20.0.0/16", "10.30.0.1/16"]}),
            &["vnet_address_space[1]"],
        ),
        case(json!({"dns_name_label": "some-label"}), &["dns_name_label"]),
        case(json!({"subnet_name": "-bad-"}), &["subnet_name"]),
        Case {
            changes: json!({"new_vnet_enabled": false}),
            fields: &["vnet_name", "vnet_resource_group"],
            combines: false,
        },
        case(
            json!({"polaris_proxy_source_ranges": ["not-a-cidr"]}),
            &["polaris_proxy_source_ranges[0]"],
        ),
        case(
            json!({"key_vault_soft_delete_retention_days": 3}),
            &["key_vault_soft_delete_retention_days"],
        ),
        case(
            json!({"workload_env_vars": {"TOKEN": {"value": "", "secret": true}}}),
            &["workload_env_vars.TOKEN"],
        ),
    ]
}

/// Submits `spec` and returns the validation errors; checks the refusal left no trace.
async fn refused(h: &Harness, spec: &Value) -> SpecErrors {
    let errors = match h.rt.app.deployments.submit(spec, Some("refused")).await {
        Err(WorkerError::InvalidSpec(errors)) => errors,
        other => panic!("expected InvalidSpec, got {other:?}"),
    };

    let stored = h.rt.app.deployments.list(None, None, 10).await.expect("list");
    assert!(stored.items.is_empty(), "a refused spec was stored");
    assert_eq!(h.rt.queue.stats().sent, 0, "a refused spec sent a message");
    assert!(h.sim().request_log().is_empty(), "a refused spec reached Azure");
    errors
}

fn fields(errors: &SpecErrors) -> BTreeSet<String> {
    errors.iter().map(|e| e.field.clone()).collect()
}

async fn each_bad_field_is_named(base: Value, cases: Vec<Case>) {
    let h = support::start(Setup::default()).await;
    for case in cases {
        let errors = refused(&h, &with(base.clone(), case.changes.clone())).await;

        let want: BTreeSet<String> = case.fields.iter().map(|f| (*f).to_owned()).collect();
        assert_eq!(fields(&errors), want, "{}: {errors}", case.changes);
        assert_eq!(errors.len(), want.len(), "one message per field: {errors}");
        for e in errors.iter() {
            assert!(!e.message.is_empty() && !e.fix.is_empty(), "{e}");
            assert!(errors.to_string().contains(&format!("`{}`", e.field)));
        }
    }
}

#[tokio::test]
async fn every_bad_field_of_a_public_spec_gets_its_own_error() {
    each_bad_field_is_named(example("standard.json"), public_cases()).await;
}

#[tokio::test]
async fn every_bad_field_of_a_private_spec_gets_its_own_error() {
    each_bad_field_is_named(example("private.json"), private_cases()).await;
}

/// All bad values of each list at once (one per key): every field is listed, none lost.
#[tokio::test]
async fn a_spec_with_several_bad_fields_lists_them_all() {
    let h = support::start(Setup::default()).await;
    for (base, cases) in
        [(example("standard.json"), public_cases()), (example("private.json"), private_cases())]
    {
        let mut spec = base;
        let mut want = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for case in cases.into_iter().filter(|c| c.combines) {
            let key = case.changes.as_object().expect("object").keys().next().cloned();
            // One value per key; the same key twice would overwrite a case.
            if !keys.insert(key.expect("a key")) {
                continue;
            }
            spec = with(spec, case.changes);
            want.extend(case.fields.iter().map(|f| (*f).to_owned()));
        }

        let errors = refused(&h, &spec).await;

        assert_eq!(fields(&errors), want, "{errors}");
        assert_eq!(errors.len(), want.len(), "one message per bad field: {errors}");
    }
}

//! Reading specs: defaults, normalisation, type errors and unknown fields, all at once.

mod plan_support;

use plan_support::*;
use polaris_core::spec::{
    ComputeTarget, DeploymentSpec, EnvValue, NetworkingType, SKR_SIDECAR_IMAGE, parse_spec,
};
use serde_json::json;

#[test]
fn absent_fields_take_the_module_defaults() {
    let spec = parse(&minimal());
    assert_eq!(spec.container_cpu, 1.0);
    assert_eq!(spec.container_memory, 4.0);
    assert!(spec.new_vnet_enabled);
    assert_eq!(spec.networking_type, NetworkingType::Public);
    assert_eq!(spec.dns_name_label, "");
    assert_eq!(spec.vnet_address_space, ["10.0.0.0/16"]);
    assert_eq!(spec.subnet_name, "default");
    assert_eq!(spec.subnet_address_prefix, "10.0.1.0/24");
    assert!(spec.enable_key_vault);
    assert_eq!(spec.polaris_proxy_source_ranges, ["0.0.0.0/0"]);
    assert!(!spec.polaris_proxy_enable_input_encryption);
    assert!(!spec.polaris_proxy_enable_output_encryption);
    assert_eq!(spec.polaris_proxy_image_version, "latest");
    assert_eq!(spec.polaris_proxy_port, 3000);
    assert!(!spec.polaris_proxy_enable_cors);
    assert!(spec.polaris_proxy_enable_logging);
    assert_eq!(spec.workload_port, 8000);
    assert!(spec.workload_env_vars.is_empty() && spec.workload_arguments.is_empty());
    assert_eq!(spec.registry_login_server, "");
    assert!(!spec.registry_password.is_set());
    assert_eq!(spec.cce_policy, None);
    assert!(!spec.key_vault_purge_protection);
    assert_eq!(spec.key_vault_soft_delete_retention_days, 90);
    assert_eq!(spec.key_rotation_days, 90);
    assert!(!spec.restart_on_key_rotation);
    assert_eq!(spec.skr_sidecar_image, SKR_SIDECAR_IMAGE);
    assert_eq!(spec.compute_target, ComputeTarget::ContainerGroup);
    assert_eq!(spec.maa_host().as_deref(), Some("sharedweu.weu.attest.azure.net"));
}

#[test]
fn display_name_locations_are_normalised() {
    let spec = parse(&with(json!({ "location": "West Europe" })));
    assert_eq!(spec.location, "westeurope");
    let spec = parse(&with(json!({ "location": "eastus2" })));
    assert_eq!(spec.maa_host().as_deref(), Some("sharedeus2.eus2.attest.azure.net"));
}

#[test]
fn maa_endpoint_given_as_url_becomes_a_bare_host() {
    let spec = parse(&with(json!({ "maa_endpoint": "https://myattest.weu.attest.azure.net/" })));
    assert_eq!(spec.maa_host().as_deref(), Some("myattest.weu.attest.azure.net"));
}

#[test]
fn unknown_field_suggests_the_nearest() {
    let errors = errors(&with(json!({ "workload_prot": 9000 })));
    let error = errors.iter().next().unwrap();
    assert_eq!(error.field, "workload_prot");
    assert_eq!(error.message, "unknown field `workload_prot`; did you mean `workload_port`?");
    assert!(errors.to_string().contains("rename `workload_prot` to `workload_port`"));
}

#[test]
fn unknown_field_in_the_vm_object_is_reported_with_its_path() {
    let spec = with(json!({
        "compute_target": "confidential_vm",
        "vm": { "ssh_key": "x" }
    }));
    let errors = errors(&spec);
    let error = errors.for_field("vm.ssh_key").next().expect("vm.ssh_key reported");
    assert!(error.message.contains("did you mean `ssh_public_key`"), "{}", error.message);
}

#[test]
fn missing_required_fields_are_each_reported() {
    let errors = errors(&json!({}));
    for field in ["name", "location", "subscription_id", "workload_image"] {
        assert!(errors.has_field(field), "{field} missing from {errors}");
    }
}

#[test]
fn a_type_error_does_not_hide_other_problems() {
    let spec = with(json!({
        "container_cpu": "two",
        "enable_key_vault": "yes",
        "workload_port": "8000",
        "vnet_address_space": ["10.0.0.0/16", 7],
        "workload_env_vars": { "OK": "fine", "BAD": 3 },
        "tags": "team=ml",
        "dns_name_label": "Bad_Label"
    }));
    let errors = errors(&spec);
    assert_eq!(
        fields(&errors),
        [
            "container_cpu",
            "vnet_address_space[1]",
            "enable_key_vault",
            "workload_port",
            "workload_env_vars.BAD",
            "tags",
            "dns_name_label",
        ]
    );
    let cpu = errors.for_field("container_cpu").next().unwrap();
    assert_eq!(cpu.message, "expected a number, found a string");
}

#[test]
fn not_json_and_not_an_object_are_errors() {
    let syntax = parse_spec("{ name: ").unwrap_err();
    assert!(syntax.iter().next().unwrap().message.starts_with("not valid JSON"));
    let list = parse_spec("[1, 2]").unwrap_err();
    assert!(list.iter().next().unwrap().message.contains("expected a JSON object"));
}

#[test]
fn env_values_are_strings_or_secret_objects() {
    let spec = parse(&with(json!({
        "workload_env_vars": {
            "PLAIN": "1",
            "HIDDEN": { "value": "s3cr3t", "secret": true },
            "SHOWN": { "value": "visible", "secret": false }
        }
    })));
    assert_eq!(spec.workload_env_vars["PLAIN"], EnvValue::Plain("1".into()));
    assert_eq!(spec.workload_env_vars["SHOWN"], EnvValue::Plain("visible".into()));
    match &spec.workload_env_vars["HIDDEN"] {
        EnvValue::Secure(secret) => assert_eq!(secret.expose(), Some("s3cr3t")),
        other => panic!("expected a secure value, got {other:?}"),
    }
}

#[test]
fn env_object_with_a_stray_key_is_refused() {
    let spec = with(json!({ "workload_env_vars": { "X": { "value": "1", "secrets": true } } }));
    let errors = errors(&spec);
    let error = errors.for_field("workload_env_vars.X.secrets").next().expect("reported");
    assert!(error.message.contains("did you mean `secret`"));
}

#[test]
fn several_bad_fields_are_all_listed() {
    let spec = json!({
        "name": "!!!",
        "location": "Westeurop",
        "subscription_id": "not-a-guid",
        "container_cpu": 0,
        "networking_type": "private",
        "polaris_proxy_port": 8000,
        "workload_image": "ghcr.io/Owner/app:1",
        "workload_env_vars": { "1BAD": "x" },
        "registry_username": "bob",
        "key_vault_soft_delete_retention_days": 3,
        "cce_policy": ""
    });
    let errors = errors(&spec);
    let listed = fields(&errors);
    for field in [
        "name",
        "location",
        "subscription_id",
        "container_cpu",
        "networking_type",
        "workload_port",
        "workload_image",
        "workload_env_vars.1BAD",
        "registry_login_server",
        "registry_password",
        "key_vault_soft_delete_retention_days",
        "cce_policy",
    ] {
        assert!(listed.iter().any(|f| f == field), "`{field}` not in {listed:?}");
    }
    let text = errors.to_string();
    assert!(text.contains("did you mean `westeurope`?"), "{text}");
    assert!(text.contains(&format!("the deployment spec has {} problems", errors.len())));
}

#[test]
fn serde_round_trip_keeps_everything_but_secret_values() {
    let spec = parse(&with(json!({
        "registry_login_server": "myreg.azurecr.io",
        "registry_username": "bob",
        "registry_password": "pa55word",
        "workload_env_vars": { "API_KEY": { "value": "k-123", "secret": true }, "DEBUG": "1" },
        "tags": { "team": "ml" }
    })));
    let stored = serde_json::to_value(&spec).unwrap();
    let back: DeploymentSpec = serde_json::from_value(stored).unwrap();

    assert!(back.registry_password.is_redacted());
    assert_eq!(back.registry_password.expose(), None);
    assert_eq!(back.workload_env_vars["DEBUG"], EnvValue::Plain("1".into()));
    assert!(matches!(&back.workload_env_vars["API_KEY"], EnvValue::Secure(s) if s.is_redacted()));
    assert_eq!(back.tags, spec.tags);
    assert_eq!(back.name, spec.name);
    back.validate().expect("a redacted spec still validates");
}

//! One test per validation rule: the rule fires on the bad value, names the field, and stays
//! quiet on a good one.

mod plan_support;

use plan_support::*;
use serde_json::{Value, json};

/// The spec is rejected and `field` is among the reported fields; returns that error's text.
fn rejects(spec: Value, field: &str) -> String {
    let errors = errors(&spec);
    let error = errors
        .for_field(field)
        .next()
        .unwrap_or_else(|| panic!("no error for `{field}`; got {:?}", fields(&errors)));
    error.to_string()
}

#[test]
fn name_must_leave_something_after_sanitizing() {
    let text = rejects(with(json!({ "name": "---" })), "name");
    assert!(text.contains("no letters or digits"), "{text}");
    parse(&with(json!({ "name": "My App" })));
}

#[test]
fn name_must_fit_the_container_group_name() {
    let long = "a".repeat(60);
    let text = rejects(with(json!({ "name": long })), "name");
    assert!(text.contains("ACI's 63") && text.contains("at most 59"), "{text}");
    parse(&with(json!({ "name": "a".repeat(59) })));
}

#[test]
fn subscription_id_must_be_a_guid() {
    rejects(with(json!({ "subscription_id": "my-subscription" })), "subscription_id");
    rejects(
        with(json!({ "subscription_id": "00000000-0000-0000-0000-00000000000g" })),
        "subscription_id",
    );
    parse(&with(json!({ "subscription_id": "ABCDEF01-2345-6789-abcd-ef0123456789" })));
}

#[test]
fn location_must_be_a_known_region() {
    let spec = with(json!({ "location": "moon-base" }));
    let text = rejects(spec.clone(), "location");
    assert!(text.contains("`moon-base` is not a known Azure region"), "{text}");
    assert_eq!(fields(&errors(&spec)), ["location"], "one mistake, one message");
}

#[test]
fn cpu_must_be_positive_and_fit_the_group() {
    rejects(with(json!({ "container_cpu": 0 })), "container_cpu");
    rejects(with(json!({ "container_cpu": -1.5 })), "container_cpu");
    // Enhanced: proxy 1 + sidecar 1 + workload 3 = 5 > 4.
    let text = rejects(with(json!({ "container_cpu": 3 })), "container_cpu");
    assert!(text.contains("use at most 2 vCPU"), "{text}");
    parse(&with(json!({ "container_cpu": 2 })));
    // Standard mode has no sidecar, so 3 fits.
    parse(&with(json!({ "container_cpu": 3, "enable_key_vault": false })));
}

#[test]
fn memory_must_be_a_multiple_of_a_tenth_and_fit_the_group() {
    let text = rejects(with(json!({ "container_memory": 1.55 })), "container_memory");
    assert!(text.contains("not a multiple of 0.1"), "{text}");
    rejects(with(json!({ "container_memory": 0 })), "container_memory");
    let text = rejects(with(json!({ "container_memory": 14.5 })), "container_memory");
    assert!(text.contains("at most 14 GB"), "{text}");
    parse(&with(json!({ "container_memory": 1.5 })));
    parse(&with(json!({ "container_memory": 14 })));
}

#[test]
fn ports_must_be_in_range() {
    rejects(with(json!({ "workload_port": 0 })), "workload_port");
    rejects(with(json!({ "polaris_proxy_port": 70000 })), "polaris_proxy_port");
    rejects(with(json!({ "workload_port": 80.5 })), "workload_port");
}

#[test]
fn proxy_and_workload_ports_differ() {
    let text = rejects(with(json!({ "workload_port": 3000 })), "workload_port");
    assert!(text.contains("both use port 3000"), "{text}");
}

#[test]
fn port_8080_is_the_sidecars_in_enhanced_mode() {
    rejects(with(json!({ "workload_port": 8080 })), "workload_port");
    rejects(with(json!({ "polaris_proxy_port": 8080 })), "polaris_proxy_port");
    parse(&with(json!({ "workload_port": 8080, "enable_key_vault": false })));
}

#[test]
fn networking_type_is_exactly_public_or_private() {
    let text = rejects(with(json!({ "networking_type": "private" })), "networking_type");
    assert!(text.contains("case-sensitive"), "{text}");
    parse(&with(json!({ "networking_type": "Private" })));
}

#[test]
fn dns_name_label_rules() {
    for bad in ["ab", "1abc", "abc-", "Abc", "a_b_c", &"a".repeat(64)] {
        rejects(with(json!({ "dns_name_label": bad })), "dns_name_label");
    }
    parse(&with(json!({ "dns_name_label": "polaris-example-app" })));
}

#[test]
fn dns_name_label_with_private_networking_is_an_error() {
    let spec = with(json!({ "networking_type": "Private", "dns_name_label": "my-app" }));
    let text = rejects(spec, "dns_name_label");
    assert!(text.contains("needs a public IP"), "{text}");
}

#[test]
fn restricted_source_ranges_are_refused_with_public_networking() {
    let spec = with(json!({ "polaris_proxy_source_ranges": ["203.0.113.0/24"] }));
    let text = rejects(spec, "polaris_proxy_source_ranges");
    assert!(text.contains("cannot carry a network security group"), "{text}");
    assert!(text.contains("Private"), "{text}");
    let private = with(json!({
        "networking_type": "Private",
        "polaris_proxy_source_ranges": ["203.0.113.0/24", "198.51.100.7"]
    }));
    parse(&private);
}

#[test]
fn source_ranges_must_be_addresses_and_not_empty() {
    let spec = with(json!({
        "networking_type": "Private",
        "polaris_proxy_source_ranges": ["10.0.0.0/8", "office"]
    }));
    rejects(spec, "polaris_proxy_source_ranges[1]");
    let empty = with(json!({ "networking_type": "Private", "polaris_proxy_source_ranges": [] }));
    rejects(empty, "polaris_proxy_source_ranges");
}

#[test]
fn vnet_address_space_must_be_cidrs() {
    let spec = with(json!({ "networking_type": "Private", "vnet_address_space": ["10.0.0/16"] }));
    rejects(spec, "vnet_address_space[0]");
    let host_bits =
        with(json!({ "networking_type": "Private", "vnet_address_space": ["10.0.0.1/16"] }));
    let text = rejects(host_bits, "vnet_address_space[0]");
    assert!(text.contains("use `10.0.0.0/16`"), "{text}");
}

#[test]
fn subnet_prefix_must_lie_inside_the_vnet() {
    let spec = with(json!({
        "networking_type": "Private",
        "vnet_address_space": ["10.0.0.0/16"],
        "subnet_address_prefix": "10.1.0.0/24"
    }));
    let text = rejects(spec, "subnet_address_prefix");
    assert!(text.contains("not inside any of vnet_address_space"), "{text}");

    let second_space = with(json!({
        "networking_type": "Private",
        "vnet_address_space": ["10.0.0.0/16", "10.1.0.0/16"],
        "subnet_address_prefix": "10.1.0.0/24"
    }));
    parse(&second_space);
}

#[test]
fn subnet_prefix_must_be_at_least_a_slash_29() {
    let spec =
        with(json!({ "networking_type": "Private", "subnet_address_prefix": "10.0.1.0/30" }));
    rejects(spec, "subnet_address_prefix");
}

#[test]
fn public_networking_ignores_vnet_settings() {
    // The VNet is not used in Public mode, so its fields are not checked.
    parse(&with(json!({ "vnet_address_space": ["nonsense"] })));
}

#[test]
fn existing_vnet_needs_its_name_and_group() {
    let spec = with(json!({ "networking_type": "Private", "new_vnet_enabled": false }));
    let errors = errors(&spec);
    assert!(errors.has_field("vnet_name") && errors.has_field("vnet_resource_group"));
    parse(&with(json!({
        "networking_type": "Private",
        "new_vnet_enabled": false,
        "vnet_name": "corp-vnet",
        "vnet_resource_group": "network-rg"
    })));
}

#[test]
fn subnet_name_must_be_valid() {
    let spec = with(json!({ "networking_type": "Private", "subnet_name": "bad name!" }));
    rejects(spec, "subnet_name");
}

#[test]
fn registry_credentials_are_all_or_none() {
    let spec =
        with(json!({ "registry_login_server": "myreg.azurecr.io", "registry_username": "u" }));
    let text = rejects(spec, "registry_password");
    assert!(text.contains("registry credentials go together"), "{text}");
    let only_password = with(json!({ "registry_password": "p" }));
    let errors = errors(&only_password);
    assert!(errors.has_field("registry_login_server") && errors.has_field("registry_username"));
    parse(&with(json!({
        "registry_login_server": "myreg.azurecr.io",
        "registry_username": "u",
        "registry_password": "p"
    })));
}

#[test]
fn registry_login_server_is_a_host() {
    let spec = with(json!({
        "registry_login_server": "https://myreg.azurecr.io",
        "registry_username": "u",
        "registry_password": "p"
    }));
    rejects(spec, "registry_login_server");
}

#[test]
fn image_repository_must_be_lower_case_b12() {
    let spec = with(json!({ "workload_image": format!("ghcr.io/Owner/img@{DIGEST}") }));
    let text = rejects(spec, "workload_image");
    assert!(text.contains(&format!("use `ghcr.io/owner/img@{DIGEST}`")), "{text}");
}

#[test]
fn image_reference_must_be_well_formed() {
    rejects(
        with(json!({ "workload_image": "myreg.azurecr.io/app@sha256:short" })),
        "workload_image",
    );
    rejects(with(json!({ "workload_image": "myreg.azurecr.io/app:" })), "workload_image");
    rejects(
        with(json!({ "skr_sidecar_image": "mcr.microsoft.com/aci/SKR:2.7" })),
        "skr_sidecar_image",
    );
    rejects(
        with(json!({ "polaris_proxy_image_version": "sha256:abc" })),
        "polaris_proxy_image_version",
    );
    rejects(with(json!({ "polaris_proxy_image_version": "-x" })), "polaris_proxy_image_version");
}

#[test]
fn workload_image_gets_the_registry_prefix_once() {
    let creds = json!({
        "registry_login_server": "myreg.azurecr.io",
        "registry_username": "u",
        "registry_password": "p"
    });
    let mut bare = creds.clone();
    bare["workload_image"] = json!("team/app:1");
    assert_eq!(parse(&with(bare)).workload_image_ref(), "myreg.azurecr.io/team/app:1");

    let mut full = creds;
    full["workload_image"] = json!("myreg.azurecr.io/team/app:1");
    assert_eq!(parse(&with(full)).workload_image_ref(), "myreg.azurecr.io/team/app:1");

    let public = parse(&with(json!({ "workload_image": "nginx:1.27" })));
    assert_eq!(public.workload_image_ref(), "nginx:1.27");
}

#[test]
fn env_var_names_must_be_valid() {
    let spec = with(json!({ "workload_env_vars": { "MY-VAR": "x", "OK_1": "y" } }));
    let errors = errors(&spec);
    assert_eq!(fields(&errors), ["workload_env_vars.MY-VAR"]);
}

#[test]
fn secret_env_values_must_not_be_empty() {
    let spec = with(json!({ "workload_env_vars": { "K": { "value": "", "secret": true } } }));
    rejects(spec, "workload_env_vars.K");
}

#[test]
fn cce_policy_must_be_non_empty_base64_b08() {
    let text = rejects(with(json!({ "cce_policy": "  " })), "cce_policy");
    assert!(text.contains("InvalidCcePolicy"), "{text}");
    let text = rejects(with(json!({ "cce_policy": "not base64!" })), "cce_policy");
    assert!(text.contains("not valid base64"), "{text}");
}

#[test]
fn cce_policy_requires_every_image_pinned_b07() {
    let spec = with(json!({ "cce_policy": ALLOW_ALL_CCE }));
    let errors = errors(&spec);
    assert_eq!(
        fields(&errors),
        ["workload_image", "polaris_proxy_image_version", "skr_sidecar_image"]
    );
    assert!(errors.to_string().contains("deviceHash not found"));

    let pinned = with(json!({
        "cce_policy": ALLOW_ALL_CCE,
        "workload_image": format!("myreg.azurecr.io/app@{DIGEST}"),
        "polaris_proxy_image_version": DIGEST,
        "skr_sidecar_image": format!("mcr.microsoft.com/aci/skr:2.7@{DIGEST}")
    }));
    parse(&pinned);
}

#[test]
fn cce_policy_needs_enhanced_mode() {
    let spec = with(json!({ "cce_policy": ALLOW_ALL_CCE, "enable_key_vault": false }));
    let text = rejects(spec, "cce_policy");
    assert!(text.contains("Confidential SKU"), "{text}");
}

#[test]
fn enhanced_mode_needs_an_attestation_endpoint() {
    // West US 2 has no shared MAA instance in our table.
    let spec = with(json!({ "location": "westus2" }));
    let text = rejects(spec, "maa_endpoint");
    assert!(text.contains("no shared attestation endpoint"), "{text}");
    parse(&with(
        json!({ "location": "westus2", "maa_endpoint": "myattest.wus2.attest.azure.net" }),
    ));
    parse(&with(json!({ "location": "westus2", "enable_key_vault": false })));
}

#[test]
fn maa_endpoint_must_be_a_host() {
    rejects(with(json!({ "maa_endpoint": "https://x.attest.azure.net/path" })), "maa_endpoint");
    rejects(with(json!({ "maa_endpoint": "http://x.attest.azure.net" })), "maa_endpoint");
}

#[test]
fn soft_delete_retention_is_7_to_90_days() {
    rejects(
        with(json!({ "key_vault_soft_delete_retention_days": 6 })),
        "key_vault_soft_delete_retention_days",
    );
    rejects(
        with(json!({ "key_vault_soft_delete_retention_days": 91 })),
        "key_vault_soft_delete_retention_days",
    );
    parse(&with(json!({ "key_vault_soft_delete_retention_days": 7 })));
}

#[test]
fn key_rotation_is_off_or_at_least_a_week() {
    rejects(with(json!({ "key_rotation_days": 3 })), "key_rotation_days");
    parse(&with(json!({ "key_rotation_days": 0 })));
    parse(&with(json!({ "key_rotation_days": 365 })));
}

#[test]
fn our_tags_cannot_be_overridden() {
    let spec = with(json!({ "tags": { "polaris-deployment": "someone-else", "team": "ml" } }));
    assert_eq!(fields(&errors(&spec)), ["tags.polaris-deployment"]);
    rejects(with(json!({ "tags": { "a/b": "x" } })), "tags.a/b");
}

#[test]
fn vm_object_is_only_for_the_vm_target() {
    let spec = with(json!({ "vm": { "ssh_public_key": "ssh-ed25519 AAAA" } }));
    rejects(spec, "vm");
}

fn vm_spec(vm: Value) -> Value {
    with(json!({ "compute_target": "confidential_vm", "vm": vm }))
}

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";

#[test]
fn vm_needs_an_ssh_key_b10() {
    let text = rejects(with(json!({ "compute_target": "confidential_vm" })), "vm.ssh_public_key");
    assert!(text.contains("is required"), "{text}");
    rejects(vm_spec(json!({ "ssh_public_key": "hunter2" })), "vm.ssh_public_key");
    parse(&vm_spec(json!({ "ssh_public_key": SSH_KEY })));
}

#[test]
fn vm_size_must_support_confidential_vms_b10() {
    let spec = vm_spec(json!({ "ssh_public_key": SSH_KEY, "vm_size": "Standard_D4s_v5" }));
    let text = rejects(spec, "vm.vm_size");
    assert!(text.contains("does not support the ConfidentialVM"), "{text}");
    parse(&vm_spec(json!({ "ssh_public_key": SSH_KEY, "vm_size": "Standard_DC4as_v5" })));
}

#[test]
fn vm_needs_an_os_disk_encryption_type_b10() {
    let spec =
        vm_spec(json!({ "ssh_public_key": SSH_KEY, "os_disk_security_encryption_type": "" }));
    rejects(spec, "vm.os_disk_security_encryption_type");
    parse(&vm_spec(json!({
        "ssh_public_key": SSH_KEY,
        "os_disk_security_encryption_type": "DiskWithVMGuestState"
    })));
}

#[test]
fn vm_image_zone_user_and_ssh_ranges_are_checked() {
    let spec = vm_spec(json!({
        "ssh_public_key": SSH_KEY,
        "image_id": "ubuntu",
        "zone": "4",
        "admin_username": "root",
        "ssh_source_ranges": ["everyone"]
    }));
    let errors = errors(&spec);
    assert_eq!(
        fields(&errors),
        ["vm.zone", "vm.admin_username", "vm.ssh_source_ranges[0]", "vm.image_id"]
    );
    parse(&vm_spec(json!({
        "ssh_public_key": SSH_KEY,
        "image_id": "Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest",
        "zone": "2"
    })));
}

#[test]
fn vm_refuses_secrets_it_would_leak_through_custom_data() {
    let spec = with(json!({
        "compute_target": "confidential_vm",
        "vm": { "ssh_public_key": SSH_KEY },
        "workload_env_vars": { "TOKEN": { "value": "t", "secret": true } }
    }));
    let text = rejects(spec, "workload_env_vars.TOKEN");
    assert!(text.contains("custom data"), "{text}");
}

#[test]
fn vm_may_restrict_sources_with_public_networking() {
    // A VM NIC carries an NSG, unlike an ACI public IP.
    let spec = with(json!({
        "compute_target": "confidential_vm",
        "vm": { "ssh_public_key": SSH_KEY },
        "polaris_proxy_source_ranges": ["203.0.113.0/24"]
    }));
    parse(&spec);
}

/// Found by a first-time user: `"workload_image": ""` was accepted and even deployed.
#[test]
fn empty_workload_image_is_refused_and_a_missing_one_reported_once() {
    let mut spec: serde_json::Value =
        serde_json::from_str(include_str!("../../../examples/standard.json")).unwrap();
    spec["workload_image"] = serde_json::json!("");
    let errors = polaris_core::spec::parse_spec_value(&spec).unwrap_err();
    let found: Vec<_> = errors.for_field("workload_image").collect();
    assert_eq!(found.len(), 1, "{errors}");
    assert!(found[0].message.contains("empty"), "{errors}");

    spec.as_object_mut().unwrap().remove("workload_image");
    let errors = polaris_core::spec::parse_spec_value(&spec).unwrap_err();
    assert_eq!(errors.for_field("workload_image").count(), 1, "{errors}");
}

//! JSON -> [`DeploymentSpec`], one field at a time (see [`super::read`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::SpecError;
use super::read::Reader;
use super::{
    ComputeTarget, DeploymentSpec, EnvValue, NetworkingType, ReleasePolicy, Secret, VmSpec,
    normalise_host, regions,
};

/// Every top-level field, for unknown-field detection and "did you mean" hints.
const FIELDS: &[&str] = &[
    "name",
    "location",
    "subscription_id",
    "container_cpu",
    "container_memory",
    "new_vnet_enabled",
    "networking_type",
    "dns_name_label",
    "vnet_name",
    "vnet_resource_group",
    "vnet_address_space",
    "subnet_name",
    "subnet_address_prefix",
    "enable_key_vault",
    "polaris_proxy_source_ranges",
    "polaris_proxy_enable_input_encryption",
    "polaris_proxy_enable_output_encryption",
    "polaris_proxy_image_version",
    "polaris_proxy_port",
    "polaris_proxy_enable_cors",
    "polaris_proxy_enable_logging",
    "workload_image",
    "workload_port",
    "workload_env_vars",
    "workload_arguments",
    "registry_login_server",
    "registry_username",
    "registry_password",
    "cce_policy",
    "maa_endpoint",
    "release_policy",
    "key_vault_purge_protection",
    "key_vault_soft_delete_retention_days",
    "key_rotation_days",
    "restart_on_key_rotation",
    "skr_sidecar_image",
    "compute_target",
    "vm",
    "tags",
];

const VM_FIELDS: &[&str] = &[
    "vm_size",
    "admin_username",
    "ssh_public_key",
    "zone",
    "os_disk_security_encryption_type",
    "image_id",
    "ssh_source_ranges",
];

/// Reads every field, with defaults for absent ones; returns the spec and the read errors.
pub(crate) fn read_spec(value: &Value) -> (DeploymentSpec, Vec<SpecError>) {
    let Value::Object(obj) = value else {
        let error = SpecError::new(
            "",
            format!("expected a JSON object, found {}", super::read::kind(value)),
            "wrap the variables in { ... }",
        );
        return (DeploymentSpec::default(), vec![error]);
    };

    let defaults = DeploymentSpec::default();
    let mut r = Reader::new(obj, "");
    r.reject_unknown(FIELDS);

    let name = r.required_string("name", "polaris-example").unwrap_or_default();
    let location = read_location(&mut r);
    let subscription_id =
        r.required_string("subscription_id", "00000000-0000-0000-0000-000000000000");
    let workload_image =
        r.required_string("workload_image", "myregistry.azurecr.io/app:1.0").unwrap_or_default();

    let spec = DeploymentSpec {
        name,
        location,
        subscription_id: subscription_id.unwrap_or_default(),
        container_cpu: r.number("container_cpu", defaults.container_cpu),
        container_memory: r.number("container_memory", defaults.container_memory),
        new_vnet_enabled: r.boolean("new_vnet_enabled", defaults.new_vnet_enabled),
        networking_type: read_networking_type(&mut r),
        dns_name_label: r.string("dns_name_label", ""),
        vnet_name: r.string("vnet_name", ""),
        vnet_resource_group: r.string("vnet_resource_group", ""),
        vnet_address_space: r.string_list("vnet_address_space", &["10.0.0.0/16"]),
        subnet_name: r.string("subnet_name", &defaults.subnet_name),
        subnet_address_prefix: r.string("subnet_address_prefix", &defaults.subnet_address_prefix),
        enable_key_vault: r.boolean("enable_key_vault", defaults.enable_key_vault),
        polaris_proxy_source_ranges: r.string_list("polaris_proxy_source_ranges", &["0.0.0.0/0"]),
        polaris_proxy_enable_input_encryption: r
            .boolean("polaris_proxy_enable_input_encryption", false),
        polaris_proxy_enable_output_encryption: r
            .boolean("polaris_proxy_enable_output_encryption", false),
        polaris_proxy_image_version: r.string("polaris_proxy_image_version", "latest"),
        polaris_proxy_port: r.port("polaris_proxy_port", defaults.polaris_proxy_port),
        polaris_proxy_enable_cors: r.boolean("polaris_proxy_enable_cors", false),
        polaris_proxy_enable_logging: r.boolean("polaris_proxy_enable_logging", true),
        workload_image,
        workload_port: r.port("workload_port", defaults.workload_port),
        workload_env_vars: read_env_vars(&mut r),
        workload_arguments: r.string_list("workload_arguments", &[]),
        registry_login_server: r.string("registry_login_server", ""),
        registry_username: r.string("registry_username", ""),
        registry_password: Secret::from_input(r.string("registry_password", "")),
        cce_policy: r.optional_string("cce_policy"),
        maa_endpoint: r.optional_string("maa_endpoint").map(|m| normalise_host(&m)),
        release_policy: read_release_policy(&mut r),
        key_vault_purge_protection: r.boolean("key_vault_purge_protection", false),
        key_vault_soft_delete_retention_days: r.integer(
            "key_vault_soft_delete_retention_days",
            defaults.key_vault_soft_delete_retention_days,
            7,
            90,
        ),
        key_rotation_days: r.integer("key_rotation_days", defaults.key_rotation_days, 0, 3650),
        restart_on_key_rotation: r.boolean("restart_on_key_rotation", false),
        skr_sidecar_image: r.string("skr_sidecar_image", &defaults.skr_sidecar_image),
        compute_target: read_compute_target(&mut r),
        vm: read_vm(&mut r),
        tags: r.string_map("tags"),
    };
    (spec, r.errors)
}

/// Normalises a display name to the ARM name; unknown regions are reported here, with the
/// nearest known one.
fn read_location(r: &mut Reader<'_>) -> String {
    let Some(raw) = r.required_string("location", "westeurope") else { return String::new() };
    if let Some(region) = regions::find_region(&raw) {
        return region.name.to_owned();
    }

    let fix = match regions::closest_region(&raw) {
        Some(near) => format!("did you mean `{near}`? use an Azure region name"),
        None => "use an Azure region name such as `westeurope` or `eastus2`".to_owned(),
    };
    r.push("location", format!("`{raw}` is not a known Azure region"), fix);
    raw
}

fn read_networking_type(r: &mut Reader<'_>) -> NetworkingType {
    match r.optional_string("networking_type").as_deref() {
        None | Some("Public") => NetworkingType::Public,
        Some("Private") => NetworkingType::Private,
        Some(other) => {
            let message = format!("`{other}` is not `Public` or `Private` (case-sensitive)");
            r.push("networking_type", message, "use exactly `Public` or `Private`");
            NetworkingType::Public
        }
    }
}

fn read_compute_target(r: &mut Reader<'_>) -> ComputeTarget {
    match r.optional_string("compute_target").as_deref() {
        None | Some("container_group") => ComputeTarget::ContainerGroup,
        Some("confidential_vm") => ComputeTarget::ConfidentialVm,
        Some(other) => {
            let message = format!("`{other}` is not a compute target");
            r.push("compute_target", message, "use `container_group` or `confidential_vm`");
            ComputeTarget::ContainerGroup
        }
    }
}

/// Each value is a string or `{"value": "...", "secret": true|false}`.
fn read_env_vars(r: &mut Reader<'_>) -> BTreeMap<String, EnvValue> {
    let mut out = BTreeMap::new();
    let Some(map) = r.object("workload_env_vars") else { return out };

    for (name, value) in map {
        let path = format!("workload_env_vars.{name}");
        match value {
            Value::String(s) => {
                out.insert(name.clone(), EnvValue::Plain(s.clone()));
            }
            Value::Object(fields) => {
                if let Some(env) = read_env_object(r, &path, fields) {
                    out.insert(name.clone(), env);
                }
            }
            other => {
                let message = format!("expected a string or an object, found {}", kind(other));
                let fix = "give a string, or {\"value\": \"...\", \"secret\": true}";
                r.errors.push(SpecError::new(path, message, fix));
            }
        }
    }
    out
}

fn read_env_object(
    r: &mut Reader<'_>,
    path: &str,
    fields: &Map<String, Value>,
) -> Option<EnvValue> {
    let mut inner = Reader::new(fields, path);
    inner.reject_unknown(&["value", "secret"]);
    let value = inner.required_string("value", "...");
    let secret = inner.boolean("secret", false);
    r.errors.append(&mut inner.errors);

    let value = value?;
    if secret {
        Some(EnvValue::Secure(Secret::from_input(value)))
    } else {
        Some(EnvValue::Plain(value))
    }
}

fn read_release_policy(r: &mut Reader<'_>) -> Option<ReleasePolicy> {
    let value = r.raw("release_policy")?;
    match ReleasePolicy::from_value(value) {
        Ok(policy) => Some(policy),
        Err(e) => {
            let fix = "give a release policy: {\"version\": \"1.0.0\", \"anyOf\": [...]}";
            r.push("release_policy", e.to_string(), fix);
            None
        }
    }
}

fn read_vm(r: &mut Reader<'_>) -> Option<VmSpec> {
    let map = r.object("vm")?;
    let defaults = VmSpec::default();
    let mut v = Reader::new(map, "vm");
    v.reject_unknown(VM_FIELDS);

    let vm = VmSpec {
        vm_size: v.string("vm_size", &defaults.vm_size),
        admin_username: v.string("admin_username", &defaults.admin_username),
        ssh_public_key: v.string("ssh_public_key", ""),
        zone: v.optional_string("zone"),
        os_disk_security_encryption_type: v
            .string("os_disk_security_encryption_type", &defaults.os_disk_security_encryption_type),
        image_id: v.string("image_id", &defaults.image_id),
        ssh_source_ranges: v.string_list("ssh_source_ranges", &[]),
    };
    r.errors.append(&mut v.errors);
    Some(vm)
}

fn kind(value: &Value) -> &'static str {
    super::read::kind(value)
}

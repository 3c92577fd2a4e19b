//! Semantic rules over a [`DeploymentSpec`]. Each rule reports its own field; rules for a
//! field that already failed to read are skipped, so one mistake yields one message.

mod images;
mod network;
mod security;
mod vm;

use super::error::SpecError;
use super::{ComputeTarget, DeploymentSpec, EnvValue, defaults, naming, regions};
use crate::plan::model::{MANAGED_BY_TAG, OWNER_TAG};

/// Collects errors, dropping those for fields whose value could not even be read.
pub(crate) struct Checker<'a> {
    pub(crate) spec: &'a DeploymentSpec,
    read_failures: Vec<String>,
    errors: Vec<SpecError>,
}

impl Checker<'_> {
    pub(crate) fn error(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let field = field.into();
        let covered = self.read_failures.iter().any(|failed| {
            field == *failed
                || field.starts_with(&format!("{failed}."))
                || field.starts_with(&format!("{failed}["))
        });
        if !covered {
            self.errors.push(SpecError::new(field, message, fix));
        }
    }

    pub(crate) fn is_vm(&self) -> bool {
        self.spec.compute_target == ComputeTarget::ConfidentialVm
    }
}

/// Runs every rule; `read_errors` are the problems already found while reading.
pub(crate) fn check(spec: &DeploymentSpec, read_errors: &[SpecError]) -> Vec<SpecError> {
    let read_failures = read_errors.iter().map(|e| e.field.clone()).collect();
    let mut c = Checker { spec, read_failures, errors: Vec::new() };

    check_name(&mut c);
    check_location(&mut c);
    check_subscription(&mut c);
    check_compute(&mut c);
    check_ports(&mut c);
    check_env(&mut c);
    check_registry(&mut c);
    check_tags(&mut c);
    network::check(&mut c);
    images::check(&mut c);
    security::check(&mut c);
    vm::check(&mut c);
    c.errors
}

fn check_name(c: &mut Checker<'_>) {
    let base = naming::sanitize(&c.spec.name);
    if base.is_empty() {
        let message =
            format!("`{}` has no letters or digits to build resource names from", c.spec.name);
        c.error("name", message, "use a name such as `polaris-example`");
    } else if base.len() > naming::MAX_BASE_LEN {
        let message = format!(
            "sanitizes to {} characters; the container group name `{base}-aci` would exceed \
             ACI's 63",
            base.len()
        );
        let fix = format!("shorten `name` to at most {} characters", naming::MAX_BASE_LEN);
        c.error("name", message, fix);
    }
}

fn check_location(c: &mut Checker<'_>) {
    let known = regions::find_region(&c.spec.location).map(|r| r.name);
    if known != Some(c.spec.location.as_str()) {
        let message = format!("`{}` is not a known Azure region name", c.spec.location);
        c.error("location", message, "use an Azure region name such as `westeurope`");
    }
}

fn check_subscription(c: &mut Checker<'_>) {
    if !is_guid(&c.spec.subscription_id) {
        let message = format!("`{}` is not a GUID", c.spec.subscription_id);
        let fix = "use the subscription id, e.g. `00000000-0000-0000-0000-000000000000`";
        c.error("subscription_id", message, fix);
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex, either case.
pub fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn check_compute(c: &mut Checker<'_>) {
    if c.is_vm() {
        return;
    }

    let spec = c.spec;
    let helpers = if spec.enable_key_vault { 2.0 } else { 1.0 };
    let helper_names = if spec.enable_key_vault { "proxy and SKR sidecar" } else { "proxy" };
    let max_cpu = defaults::GROUP_MAX_CPU - helpers * defaults::HELPER_CPU;
    let max_memory = defaults::GROUP_MAX_MEMORY_GB - helpers * defaults::HELPER_MEMORY_GB;

    let cpu = spec.container_cpu;
    if !(cpu.is_finite() && cpu > 0.0) {
        c.error("container_cpu", format!("must be more than 0, got {cpu}"), "use e.g. 1");
    } else if cpu > max_cpu + 1e-9 {
        let message = format!(
            "{cpu} vCPU plus {helpers} for the {helper_names} exceeds the {} vCPU a container \
             group may use",
            defaults::GROUP_MAX_CPU
        );
        c.error("container_cpu", message, format!("use at most {max_cpu} vCPU"));
    }

    let memory = spec.container_memory;
    let tenths = memory * 10.0;
    if !(memory.is_finite() && memory > 0.0) {
        c.error("container_memory", format!("must be more than 0, got {memory}"), "use e.g. 4");
    } else if (tenths - tenths.round()).abs() > 1e-6 {
        let message = format!("{memory} GB is not a multiple of 0.1 GB");
        let fix = format!("use {:.1}", (tenths.round() / 10.0).max(0.1));
        c.error("container_memory", message, fix);
    } else if memory > max_memory + 1e-9 {
        let message = format!(
            "{memory} GB plus {helpers} GB for the {helper_names} exceeds the {} GB a \
             container group may use",
            defaults::GROUP_MAX_MEMORY_GB
        );
        c.error("container_memory", message, format!("use at most {max_memory} GB"));
    }
}

fn check_ports(c: &mut Checker<'_>) {
    let spec = c.spec;
    if spec.polaris_proxy_port == spec.workload_port {
        let message = format!(
            "the proxy and the workload both use port {}; they share one network namespace",
            spec.workload_port
        );
        c.error("workload_port", message, "give the workload another port, e.g. 8000");
    }

    if !spec.enable_key_vault {
        return;
    }
    for (field, port) in
        [("polaris_proxy_port", spec.polaris_proxy_port), ("workload_port", spec.workload_port)]
    {
        if port == defaults::SKR_PORT {
            let message = format!(
                "port {port} is taken by the SKR sidecar in enhanced mode (enable_key_vault)"
            );
            c.error(field, message, "choose another port");
        }
    }
}

fn check_env(c: &mut Checker<'_>) {
    for (name, value) in &c.spec.workload_env_vars {
        let field = format!("workload_env_vars.{name}");
        if !is_env_name(name) {
            let message = format!("`{name}` is not a valid environment variable name");
            let fix = "use letters, digits and '_', not starting with a digit";
            c.error(field.clone(), message, fix);
        }
        if let EnvValue::Secure(secret) = value
            && !secret.is_set()
        {
            let message = "is marked secret but has an empty value";
            c.error(field, message, "give the secret value, or drop `secret: true`");
        }
    }
}

pub(crate) fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn check_registry(c: &mut Checker<'_>) {
    let spec = c.spec;
    let given = [
        ("registry_login_server", !spec.registry_login_server.is_empty()),
        ("registry_username", !spec.registry_username.is_empty()),
        ("registry_password", spec.registry_password.is_set()),
    ];
    let count = given.iter().filter(|(_, set)| *set).count();
    if count > 0 && count < given.len() {
        let set: Vec<&str> = given.iter().filter(|(_, s)| *s).map(|(f, _)| *f).collect();
        for (field, _) in given.iter().filter(|(_, s)| !*s) {
            let message = format!(
                "is empty while {} is set; registry credentials go together",
                set.join(" and ")
            );
            let fix = "give all three registry_* values, or none";
            c.error(*field, message, fix);
        }
    }

    let server = &spec.registry_login_server;
    if !server.is_empty() && super::image::check_host(server).is_err() {
        let message = format!("`{server}` is not a registry host name");
        c.error("registry_login_server", message, "give the bare host, e.g. `myreg.azurecr.io`");
    }
}

/// Azure allows 50 tags per resource; two are ours.
const MAX_USER_TAGS: usize = 48;

fn check_tags(c: &mut Checker<'_>) {
    let tags = &c.spec.tags;
    if tags.len() > MAX_USER_TAGS {
        let message =
            format!("{} tags given; Azure allows 50 per resource and we add 2", tags.len());
        c.error("tags", message, format!("give at most {MAX_USER_TAGS} tags"));
    }

    for (key, value) in tags {
        let field = format!("tags.{key}");
        if key == OWNER_TAG || key == MANAGED_BY_TAG {
            let message = format!("`{key}` is set by the orchestrator to prove ownership");
            c.error(field.clone(), message, "use another tag name");
        }
        if key.is_empty() || key.len() > 512 || key.contains(['<', '>', '%', '&', '\\', '?', '/']) {
            let message = "tag names must be 1-512 characters without < > % & \\ ? /";
            c.error(field.clone(), message, "rename the tag");
        }
        if value.len() > 256 {
            c.error(field, "tag values are at most 256 characters", "shorten the value");
        }
    }
}

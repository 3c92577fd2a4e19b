//! The container group: proxy, workload and (enhanced) SKR sidecar.

use serde_json::{Value, json};

use super::arm::{number, tcp_port};
use super::network::exposed_ports;
use crate::spec::{
    DeploymentSpec, EnvValue, HELPER_CPU, HELPER_MEMORY_GB, NetworkingType, SKR_PORT,
};

pub const PROXY_CONTAINER: &str = "polaris-secure-proxy";
pub const WORKLOAD_CONTAINER: &str = "workload";
pub const SIDECAR_CONTAINER: &str = "skr-sidecar-container";

/// Where the SKR sidecar answers inside the group's shared network namespace.
pub fn key_release_endpoint() -> String {
    format!("http://localhost:{SKR_PORT}")
}

/// Values the proxy needs for secure key release; `None` in standard mode.
pub struct KeyRelease<'a> {
    pub maa_host: &'a str,
    pub vault_name: &'a str,
    pub key_name: &'a str,
    /// `http://localhost:8080` in a group, the sidecar's container name on a VM.
    pub release_endpoint: String,
}

/// Where the group lives and who it runs as.
pub struct GroupContext<'a> {
    pub location: &'a str,
    pub tags: &'a Value,
    /// ARM id of the user-assigned identity (enhanced mode).
    pub identity_id: Option<&'a str>,
    /// ARM id of the subnet (Private networking).
    pub subnet_id: Option<&'a str>,
    pub key_release: Option<KeyRelease<'a>>,
}

/// The group's PUT body. Standard mode: `Standard` SKU, proxy and workload. Enhanced mode:
/// `Confidential` SKU, the user-assigned identity, the SKR sidecar and, when given, the CCE
/// policy that the key's release policy is bound to.
pub fn container_group_body(spec: &DeploymentSpec, ctx: &GroupContext<'_>) -> Value {
    let enhanced = ctx.key_release.is_some();
    let mut containers =
        vec![proxy_container(spec, ctx.key_release.as_ref()), workload_container(spec)];
    if enhanced {
        containers.push(sidecar_container(spec));
    }

    let mut properties = json!({
        "sku": if enhanced { "Confidential" } else { "Standard" },
        "osType": "Linux",
        "restartPolicy": "Always",
        "containers": containers,
        "ipAddress": ip_address(spec)
    });
    if let Some(subnet_id) = ctx.subnet_id {
        properties["subnetIds"] = json!([{ "id": subnet_id }]);
    }
    if !spec.registry_login_server.is_empty() {
        properties["imageRegistryCredentials"] = json!([{
            "server": spec.registry_login_server,
            "username": spec.registry_username,
            "password": "${secret:registry_password}"
        }]);
    }
    if let (true, Some(cce)) = (enhanced, &spec.cce_policy) {
        properties["confidentialComputeProperties"] = json!({ "ccePolicy": cce.trim() });
    }

    let mut body = json!({ "location": ctx.location, "tags": ctx.tags, "properties": properties });
    if let Some(identity_id) = ctx.identity_id {
        body["identity"] = json!({
            "type": "UserAssigned",
            "userAssignedIdentities": { identity_id: {} }
        });
    }
    body
}

fn ip_address(spec: &DeploymentSpec) -> Value {
    let mut ip = json!({ "ports": exposed_ports(spec.polaris_proxy_port) });
    match spec.networking_type {
        NetworkingType::Public => {
            ip["type"] = json!("Public");
            if !spec.dns_name_label.is_empty() {
                ip["dnsNameLabel"] = json!(spec.dns_name_label);
            }
        }
        NetworkingType::Private => ip["type"] = json!("Private"),
    }
    ip
}

/// The proxy's environment: `PORT` (the module never set it, so any port but 3000 broke),
/// the workload URL, the key type and flags, and in enhanced mode where to get the key.
/// `workload_host` is `localhost` in a group and the workload's container name on a VM.
pub fn proxy_env(
    spec: &DeploymentSpec,
    key_release: Option<&KeyRelease<'_>>,
    workload_host: &str,
) -> Vec<(String, String)> {
    let flag = |on: bool| if on { "true" } else { "false" }.to_owned();
    let mut env = vec![
        ("PORT".to_owned(), spec.polaris_proxy_port.to_string()),
        (
            "POLARIS_CONTAINER_WORKLOAD_BASE_URL".to_owned(),
            format!("http://{workload_host}:{}", spec.workload_port),
        ),
        (
            "POLARIS_CONTAINER_KEY_TYPE".to_owned(),
            if key_release.is_some() { "azure-skr" } else { "ephemeral" }.to_owned(),
        ),
        (
            "POLARIS_CONTAINER_ENABLE_INPUT_ENCRYPTION".to_owned(),
            flag(spec.polaris_proxy_enable_input_encryption),
        ),
        (
            "POLARIS_CONTAINER_ENABLE_OUTPUT_ENCRYPTION".to_owned(),
            flag(spec.polaris_proxy_enable_output_encryption),
        ),
        ("POLARIS_CONTAINER_ENABLE_CORS".to_owned(), flag(spec.polaris_proxy_enable_cors)),
        ("POLARIS_CONTAINER_ENABLE_LOGGING".to_owned(), flag(spec.polaris_proxy_enable_logging)),
    ];

    // The sidecar wants bare host names and the key's name, not URLs (notes §3.3).
    if let Some(release) = key_release {
        env.extend([
            ("POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT".to_owned(), release.maa_host.to_owned()),
            (
                "POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT".to_owned(),
                format!("{}.vault.azure.net", release.vault_name),
            ),
            ("POLARIS_CONTAINER_AZURE_SKR_KID".to_owned(), release.key_name.to_owned()),
            (
                "POLARIS_CONTAINER_AZURE_SKR_KEY_RELEASE_ENDPOINT".to_owned(),
                release.release_endpoint.clone(),
            ),
        ]);
    }
    env
}

fn proxy_container(spec: &DeploymentSpec, key_release: Option<&KeyRelease<'_>>) -> Value {
    let env: Vec<Value> = proxy_env(spec, key_release, "localhost")
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    json!({
        "name": PROXY_CONTAINER,
        "properties": {
            "image": spec.proxy_image_ref(),
            "ports": [tcp_port(spec.polaris_proxy_port)],
            "environmentVariables": env,
            "resources": requests(HELPER_CPU, HELPER_MEMORY_GB)
        }
    })
}

/// Secure values become `secureValue` placeholders, resolved by the executor at send time;
/// ACI never returns them on GET.
fn workload_container(spec: &DeploymentSpec) -> Value {
    let env: Vec<Value> = spec
        .workload_env_vars
        .iter()
        .map(|(name, value)| match value {
            EnvValue::Plain(v) => json!({ "name": name, "value": v }),
            EnvValue::Secure(_) => {
                json!({ "name": name, "secureValue": format!("${{secret:env:{name}}}") })
            }
        })
        .collect();

    let mut properties = json!({
        "image": spec.workload_image_ref(),
        "ports": [tcp_port(spec.workload_port)],
        "environmentVariables": env,
        "resources": requests(spec.container_cpu, spec.container_memory)
    });
    if !spec.workload_arguments.is_empty() {
        properties["command"] = json!(spec.workload_arguments);
    }
    json!({ "name": WORKLOAD_CONTAINER, "properties": properties })
}

fn sidecar_container(spec: &DeploymentSpec) -> Value {
    json!({
        "name": SIDECAR_CONTAINER,
        "properties": {
            "image": spec.skr_sidecar_image,
            "command": ["/skr.sh"],
            "ports": [tcp_port(SKR_PORT)],
            "resources": requests(HELPER_CPU, HELPER_MEMORY_GB)
        }
    })
}

fn requests(cpu: f64, memory_gb: f64) -> Value {
    json!({ "requests": { "cpu": number(cpu), "memoryInGB": number(memory_gb) } })
}

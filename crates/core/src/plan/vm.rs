//! The confidential VM variant: VM body and the cloud-init that starts its containers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::container_group::{KeyRelease, PROXY_CONTAINER, WORKLOAD_CONTAINER, proxy_env};
use crate::spec::{DeploymentSpec, EnvValue, VmSpec};

/// The vTPM-based key release container the GPU module runs on its VMs; ACI's sidecar relies
/// on ACI-provided attestation material and does not work on a VM.
pub const VM_SKR_IMAGE: &str = "fr0ntierxpublic.azurecr.io/polaris-azure-skr:latest";
pub const VM_SKR_CONTAINER: &str = "polaris-azure-skr";
pub const VM_SKR_PORT: u16 = 8081;

/// The user-defined Docker network the containers share; only the proxy publishes a port.
const DOCKER_NETWORK: &str = "polaris";

/// Where the VM variant's proxy asks for the key.
pub fn vm_key_release_endpoint() -> String {
    format!("http://{VM_SKR_CONTAINER}:{VM_SKR_PORT}")
}

pub struct VmContext<'a> {
    pub location: &'a str,
    pub tags: &'a Value,
    pub computer_name: &'a str,
    pub os_disk_name: &'a str,
    pub nic_id: &'a str,
    pub identity_id: Option<&'a str>,
    pub key_release: Option<KeyRelease<'a>>,
}

/// A `ConfidentialVM` with secure boot, vTPM and an OS-disk security encryption type: the
/// three settings whose absence ARM rejects (B10). Password login stays disabled.
pub fn vm_body(spec: &DeploymentSpec, vm: &VmSpec, ctx: &VmContext<'_>) -> Value {
    let ssh_path = format!("/home/{}/.ssh/authorized_keys", vm.admin_username);
    let mut body = json!({
        "location": ctx.location,
        "tags": ctx.tags,
        "properties": {
            "hardwareProfile": { "vmSize": vm.vm_size },
            "securityProfile": {
                "securityType": "ConfidentialVM",
                "uefiSettings": { "secureBootEnabled": true, "vTpmEnabled": true }
            },
            "storageProfile": {
                "imageReference": image_reference(&vm.image_id),
                "osDisk": {
                    "name": ctx.os_disk_name,
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "deleteOption": "Delete",
                    "managedDisk": {
                        "storageAccountType": "Premium_LRS",
                        "securityProfile": {
                            "securityEncryptionType": vm.os_disk_security_encryption_type
                        }
                    }
                }
            },
            "osProfile": {
                "computerName": ctx.computer_name,
                "adminUsername": vm.admin_username,
                "customData": STANDARD.encode(cloud_init(spec, vm, ctx.key_release.as_ref())),
                "linuxConfiguration": {
                    "disablePasswordAuthentication": true,
                    "ssh": {
                        "publicKeys": [{ "path": ssh_path, "keyData": vm.ssh_public_key.trim() }]
                    }
                }
            },
            "networkProfile": {
                "networkInterfaces": [{ "id": ctx.nic_id, "properties": { "primary": true } }]
            }
        }
    });
    if let Some(zone) = &vm.zone {
        body["zones"] = json!([zone]);
    }
    if let Some(identity_id) = ctx.identity_id {
        body["identity"] = json!({
            "type": "UserAssigned",
            "userAssignedIdentities": { identity_id: {} }
        });
    }
    body
}

/// Gallery ids map to their own `imageReference` property; a URN to its four parts.
fn image_reference(image: &str) -> Value {
    if image.starts_with("/communityGalleries/") {
        json!({ "communityGalleryImageId": image })
    } else if image.starts_with("/sharedGalleries/") {
        json!({ "sharedGalleryImageId": image })
    } else if let [publisher, offer, sku, version] = image.split(':').collect::<Vec<_>>()[..] {
        json!({ "publisher": publisher, "offer": offer, "sku": sku, "version": version })
    } else {
        json!({ "id": image })
    }
}

/// `#cloud-config` whose `runcmd` items are argument vectors, so no value passes through a
/// shell. JSON is valid YAML, which keeps quoting out of our hands. It carries no secrets:
/// validation refuses secret values for the VM target, because custom data can be read back
/// by anyone with read access to the VM.
pub fn cloud_init(
    spec: &DeploymentSpec,
    vm: &VmSpec,
    key_release: Option<&KeyRelease<'_>>,
) -> String {
    let mut commands = vec![argv(&["docker", "network", "create", DOCKER_NETWORK])];

    let mut workload = docker_run(WORKLOAD_CONTAINER);
    for (name, value) in &spec.workload_env_vars {
        if let EnvValue::Plain(value) = value {
            workload.extend(["-e".to_owned(), format!("{name}={value}")]);
        }
    }
    if has_gpu(&vm.vm_size) {
        workload.extend(["--gpus".to_owned(), "all".to_owned()]);
    }
    workload.push(spec.workload_image_ref());
    workload.extend(spec.workload_arguments.iter().cloned());
    commands.push(json!(workload));

    // The release container needs the vTPM and the kernel's security fs (module behaviour).
    if key_release.is_some() {
        let mut skr = docker_run(VM_SKR_CONTAINER);
        skr.extend(
            [
                "--privileged",
                "--volume=/dev/tpmrm0:/dev/tpmrm0",
                "--volume=/sys/kernel/security:/sys/kernel/security",
                "-e",
            ]
            .map(str::to_owned),
        );
        skr.extend([format!("PORT={VM_SKR_PORT}"), VM_SKR_IMAGE.to_owned()]);
        commands.push(json!(skr));
    }

    let port = spec.polaris_proxy_port;
    let mut proxy = docker_run(PROXY_CONTAINER);
    proxy.extend(["-p".to_owned(), format!("{port}:{port}")]);
    for (name, value) in proxy_env(spec, key_release, WORKLOAD_CONTAINER) {
        proxy.extend(["-e".to_owned(), format!("{name}={value}")]);
    }
    proxy.push(spec.proxy_image_ref());
    commands.push(json!(proxy));

    let config = json!({ "runcmd": commands });
    format!("#cloud-config\n{config}\n")
}

/// Confidential GPU sizes (`Standard_NCC..._H100_v5`); `--gpus all` fails elsewhere.
fn has_gpu(vm_size: &str) -> bool {
    vm_size.starts_with("Standard_NCC")
}

fn docker_run(name: &str) -> Vec<String> {
    ["docker", "run", "-d", "--restart=always", "--network", DOCKER_NETWORK, "--name", name]
        .map(str::to_owned)
        .to_vec()
}

fn argv(items: &[&str]) -> Value {
    json!(items)
}

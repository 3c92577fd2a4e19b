//! The deployment spec: the module's variables, our extras, and their validation.
//!
//! [`parse_spec`] is the entry point for user input. It reads the JSON field by field so that
//! every problem (wrong types included) is reported at once, then applies the semantic rules
//! in [`validate`]. A [`DeploymentSpec`] also (de)serializes with serde, which is how saga
//! state stores it: secrets come out as `"<redacted>"` and go back in as redacted secrets.

mod defaults;
mod env;
mod error;
pub mod image;
pub mod naming;
mod parse;
pub mod policy;
mod read;
pub mod regions;
mod secret;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::model::{ComputeKind, Mode};

pub use defaults::*;
pub use env::EnvValue;
pub use error::{SpecError, SpecErrors};
pub use naming::ResourceNames;
pub use policy::{Platform, ReleasePolicy, RotationPolicy};
pub use secret::{REDACTED, Secret};
pub use validate::is_guid;

/// How the endpoint is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetworkingType {
    /// A public IP (and optional DNS label) on the container group or VM.
    Public,
    /// Only a private IP inside a VNet subnet.
    Private,
}

/// What runs the containers (an extra; the module had one per repository).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeTarget {
    /// A confidential ACI container group (the ACI module).
    #[default]
    ContainerGroup,
    /// A confidential VM (the GPU module), configured by [`VmSpec`].
    ConfidentialVm,
}

/// Settings of the confidential VM variant (`compute_target = "confidential_vm"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VmSpec {
    /// Must support the `ConfidentialVM` security type (default `Standard_NCC40ads_H100_v5`).
    pub vm_size: String,
    /// Linux admin user (default `polaris`).
    pub admin_username: String,
    /// OpenSSH public key for the admin user; required, because password login is never
    /// enabled.
    pub ssh_public_key: String,
    /// Availability zone; none by default because not every region has zones.
    pub zone: Option<String>,
    /// `VMGuestStateOnly` (default), `DiskWithVMGuestState` or `NonPersistedTPM`.
    pub os_disk_security_encryption_type: String,
    /// Image: a `/communityGalleries/...`, `/sharedGalleries/...` or `/subscriptions/...` id,
    /// or a marketplace URN `publisher:offer:sku:version`. Default: Fr0ntierX's community
    /// gallery image for H100 confidential VMs.
    pub image_id: String,
    /// Source ranges allowed to reach SSH (22). Empty by default: no SSH rule at all.
    pub ssh_source_ranges: Vec<String>,
}

impl Default for VmSpec {
    fn default() -> Self {
        Self {
            vm_size: VM_SIZE.into(),
            admin_username: VM_ADMIN_USERNAME.into(),
            ssh_public_key: String::new(),
            zone: None,
            os_disk_security_encryption_type: VM_OS_DISK_ENCRYPTION.into(),
            image_id: VM_IMAGE_ID.into(),
            ssh_source_ranges: Vec::new(),
        }
    }
}

/// A deployment request: every variable of the Terraform module under its exact name and
/// default, plus the extras documented on each field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploymentSpec {
    /// Base name for all resources (sanitized: lower-case, `[a-z0-9-]`).
    pub name: String,
    /// ARM region name, normalised from a display name (`West Europe` -> `westeurope`).
    pub location: String,
    pub subscription_id: String,

    /// vCPU for the workload container (default 1).
    pub container_cpu: f64,
    /// GB of memory for the workload container (default 4), a multiple of 0.1.
    pub container_memory: f64,

    pub new_vnet_enabled: bool,
    pub networking_type: NetworkingType,
    pub dns_name_label: String,
    pub vnet_name: String,
    pub vnet_resource_group: String,
    pub vnet_address_space: Vec<String>,
    /// Name of the subnet we create or verify (the module ignored it; we honour it).
    pub subnet_name: String,
    pub subnet_address_prefix: String,

    pub enable_key_vault: bool,
    pub polaris_proxy_source_ranges: Vec<String>,
    pub polaris_proxy_enable_input_encryption: bool,
    pub polaris_proxy_enable_output_encryption: bool,

    /// A tag (`latest`) or a digest (`sha256:<64 hex>`).
    pub polaris_proxy_image_version: String,
    pub polaris_proxy_port: u16,
    pub polaris_proxy_enable_cors: bool,
    pub polaris_proxy_enable_logging: bool,

    pub workload_image: String,
    pub workload_port: u16,
    /// Plain values, or `{"value": "...", "secret": true}` for ACI secure values.
    pub workload_env_vars: BTreeMap<String, EnvValue>,
    /// Replaces the image's entrypoint (ACI `command`), as in the module.
    pub workload_arguments: Vec<String>,

    pub registry_login_server: String,
    pub registry_username: String,
    pub registry_password: Secret,

    /// Extra: base64 Rego CCE policy as `az confcom acipolicygen` prints it. When set, the
    /// container group enforces it and the key's release policy requires its hash as
    /// `x-ms-sevsnpvm-hostdata`; every image must then be pinned by digest (B07).
    pub cce_policy: Option<String>,
    /// Extra: bare host of the attestation provider. Default: the regional shared MAA host
    /// of `location` (e.g. `sharedweu.weu.attest.azure.net`); required in enhanced mode for
    /// regions without one.
    pub maa_endpoint: Option<String>,
    /// Extra: a release policy to use instead of the generated one. It must pin VMPL 0 and,
    /// for container groups, the CCE policy hash; a rotation policy is refused (B04).
    pub release_policy: Option<ReleasePolicy>,
    /// Extra: enable vault purge protection (irreversible; default false). When false the
    /// property is omitted, never sent as false (B01).
    pub key_vault_purge_protection: bool,
    /// Extra: soft-delete retention, 7..=90 days (default 90).
    pub key_vault_soft_delete_retention_days: u32,
    /// Extra: rotate the key this many days after each version is created (default 90);
    /// 0 disables automatic rotation.
    pub key_rotation_days: u32,
    /// Extra: restart the container group after a rotation so the proxy releases the new key
    /// version (it keeps the released key in memory). Read by the rotation job.
    pub restart_on_key_rotation: bool,
    /// Extra: SKR sidecar image (default `mcr.microsoft.com/aci/skr:2.7`).
    pub skr_sidecar_image: String,
    /// Extra: `container_group` (default) or `confidential_vm`.
    pub compute_target: ComputeTarget,
    /// Extra: VM settings, used with `compute_target = "confidential_vm"`.
    pub vm: Option<VmSpec>,
    /// Extra: tags added to every taggable resource, next to our ownership tags.
    pub tags: BTreeMap<String, String>,
}

impl Default for DeploymentSpec {
    /// The module's defaults; `name`, `location`, `subscription_id` and `workload_image` are
    /// required and left empty.
    fn default() -> Self {
        Self {
            name: String::new(),
            location: String::new(),
            subscription_id: String::new(),
            container_cpu: 1.0,
            container_memory: 4.0,
            new_vnet_enabled: true,
            networking_type: NetworkingType::Public,
            dns_name_label: String::new(),
            vnet_name: String::new(),
            vnet_resource_group: String::new(),
            vnet_address_space: vec!["10.0.0.0/16".into()],
            subnet_name: "default".into(),
            subnet_address_prefix: "10.0.1.0/24".into(),
            enable_key_vault: true,
            polaris_proxy_source_ranges: vec!["0.0.0.0/0".into()],
            polaris_proxy_enable_input_encryption: false,
            polaris_proxy_enable_output_encryption: false,
            polaris_proxy_image_version: "latest".into(),
            polaris_proxy_port: 3000,
            polaris_proxy_enable_cors: false,
            polaris_proxy_enable_logging: true,
            workload_image: String::new(),
            workload_port: 8000,
            workload_env_vars: BTreeMap::new(),
            workload_arguments: Vec::new(),
            registry_login_server: String::new(),
            registry_username: String::new(),
            registry_password: Secret::default(),
            cce_policy: None,
            maa_endpoint: None,
            release_policy: None,
            key_vault_purge_protection: false,
            key_vault_soft_delete_retention_days: 90,
            key_rotation_days: 90,
            restart_on_key_rotation: false,
            skr_sidecar_image: SKR_SIDECAR_IMAGE.into(),
            compute_target: ComputeTarget::ContainerGroup,
            vm: None,
            tags: BTreeMap::new(),
        }
    }
}

/// Parses and validates a JSON spec, reporting every problem at once.
pub fn parse_spec(json: &str) -> Result<DeploymentSpec, SpecErrors> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        let error = SpecError::new("", format!("not valid JSON: {e}"), "fix the JSON syntax");
        SpecErrors(vec![error])
    })?;
    parse_spec_value(&value)
}

/// Like [`parse_spec`], from an already-parsed JSON value.
pub fn parse_spec_value(value: &serde_json::Value) -> Result<DeploymentSpec, SpecErrors> {
    let (spec, mut errors) = parse::read_spec(value);
    errors.extend(validate::check(&spec, &errors));
    if errors.is_empty() { Ok(spec) } else { Err(SpecErrors(errors)) }
}

impl DeploymentSpec {
    /// Re-runs the semantic rules, e.g. on a spec read back from saga state.
    pub fn validate(&self) -> Result<(), SpecErrors> {
        let errors = validate::check(self, &[]);
        if errors.is_empty() { Ok(()) } else { Err(SpecErrors(errors)) }
    }

    pub fn mode(&self) -> Mode {
        if self.enable_key_vault { Mode::Enhanced } else { Mode::Standard }
    }

    pub fn compute_kind(&self) -> ComputeKind {
        match self.compute_target {
            ComputeTarget::ContainerGroup => ComputeKind::ContainerGroup,
            ComputeTarget::ConfidentialVm => ComputeKind::ConfidentialVm,
        }
    }

    pub fn names(&self) -> ResourceNames {
        ResourceNames::new(&self.name)
    }

    /// The VM settings, with defaults when the `vm` object was omitted.
    pub fn vm_settings(&self) -> VmSpec {
        self.vm.clone().unwrap_or_default()
    }

    /// Every secret with the key it is stored under: `registry_password` and `env:<NAME>`.
    /// Plans refer to them as `${secret:<key>}`.
    pub fn secrets(&self) -> Vec<(String, &Secret)> {
        let mut out = Vec::new();
        if self.registry_password.is_set() {
            out.push(("registry_password".to_owned(), &self.registry_password));
        }
        for (name, value) in &self.workload_env_vars {
            if let EnvValue::Secure(secret) = value {
                out.push((format!("env:{name}"), secret));
            }
        }
        out
    }

    /// The workload image as pulled: prefixed with `registry_login_server` when the image
    /// names no registry of its own (the module's behaviour), never twice.
    pub fn workload_image_ref(&self) -> String {
        let server = self.registry_login_server.trim_end_matches('/');
        let (registry, _) = image::split_registry(&self.workload_image);
        if server.is_empty() || registry.is_some() {
            self.workload_image.clone()
        } else {
            format!("{server}/{}", self.workload_image)
        }
    }

    /// The proxy image: `:<tag>`, or `@sha256:<hex>` when the version is a digest.
    pub fn proxy_image_ref(&self) -> String {
        let version = &self.polaris_proxy_image_version;
        if version.starts_with("sha256:") {
            format!("{PROXY_IMAGE_REPOSITORY}@{version}")
        } else {
            format!("{PROXY_IMAGE_REPOSITORY}:{version}")
        }
    }

    /// The attestation host: `maa_endpoint` without scheme or trailing '/', else the
    /// regional shared host.
    pub fn maa_host(&self) -> Option<String> {
        match &self.maa_endpoint {
            Some(explicit) => Some(normalise_host(explicit)),
            None => regions::find_region(&self.location)
                .and_then(|r| r.shared_maa_host)
                .map(str::to_owned),
        }
    }

    /// `x-ms-sevsnpvm-hostdata` of the CCE policy, when there is a valid one.
    pub fn cce_hostdata(&self) -> Option<String> {
        self.cce_policy.as_deref().and_then(|p| policy::cce_policy_hostdata(p).ok())
    }

    /// The platform whose attestation token will ask for the key.
    pub fn platform(&self) -> Platform {
        match self.compute_target {
            ComputeTarget::ContainerGroup => Platform::ConfidentialAci,
            ComputeTarget::ConfidentialVm => Platform::ConfidentialVm,
        }
    }

    /// The release policy the key gets: the user's, or the generated one (B05).
    pub fn effective_release_policy(&self) -> Option<ReleasePolicy> {
        if let Some(policy) = &self.release_policy {
            return Some(policy.clone());
        }
        let maa = self.maa_host()?;
        let hostdata = match self.platform() {
            Platform::ConfidentialAci => self.cce_hostdata(),
            Platform::ConfidentialVm => None,
        };
        Some(ReleasePolicy::generate(&maa, self.platform(), hostdata.as_deref()))
    }
}

/// `https://host/` -> `host`.
pub(crate) fn normalise_host(value: &str) -> String {
    let value = value.trim();
    let value = value.strip_prefix("https://").unwrap_or(value);
    value.trim_end_matches('/').to_ascii_lowercase()
}

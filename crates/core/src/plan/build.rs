//! Spec -> plan: which Azure resources a deployment owns, their bodies and their order.
//!
//! Pure and deterministic: the same spec and context always give the same plan, so the plan
//! is rebuilt on every invocation instead of being stored.

use serde_json::Value;

use super::arm::{self, Scope};
use super::container_group::{self, GroupContext, KeyRelease};
use super::keyvault;
use super::model::{
    ArmResource, ComputeKind, HealthCheckSpec, KeyResource, OutputBinding, OutputSelector,
    OutputSource, Ownership, Plan, PlannedStep, StepKind, VaultResource, VerifyCheck,
    VerifyResource,
};
use super::network;
use super::vm::{self, VmContext};
use crate::ids::{DeploymentId, StepName};
use crate::spec::naming::{self, ResourceNames};
use crate::spec::{
    DeploymentSpec, NetworkingType, ReleasePolicy, RotationPolicy, SpecErrors, VmSpec, is_guid,
};

/// Step names, as the saga and the history API know them.
pub mod steps {
    pub const RESOURCE_GROUP: &str = "resource_group";
    pub const NSG: &str = "nsg";
    pub const VNET: &str = "vnet";
    pub const SUBNET: &str = "subnet";
    pub const PUBLIC_IP: &str = "public_ip";
    pub const NIC: &str = "nic";
    pub const IDENTITY: &str = "identity";
    pub const VAULT: &str = "vault";
    pub const KEY: &str = "key";
    pub const ROLE_ASSIGNMENT: &str = "role_assignment";
    pub const CONTAINER_GROUP: &str = "container_group";
    pub const VM: &str = "vm";
    pub const HEALTH_CHECK: &str = "health_check";
}

/// How long each kind of step may stay in progress (B12: every wait has its own deadline,
/// well under ARM's 30-minute failures).
mod deadlines {
    pub const RESOURCE_GROUP: u64 = 5 * 60;
    pub const NETWORK: u64 = 10 * 60;
    pub const VERIFY: u64 = 2 * 60;
    pub const IDENTITY: u64 = 5 * 60;
    pub const VAULT: u64 = 15 * 60;
    pub const KEY: u64 = 10 * 60;
    pub const ROLE_ASSIGNMENT: u64 = 5 * 60;
    pub const CONTAINER_GROUP: u64 = 20 * 60;
    pub const VM: u64 = 25 * 60;
    pub const HEALTH: u64 = 10 * 60;
}

/// Proxy endpoints probed by the health check.
pub const HEALTH_PATH: &str = "/polaris-container/health";
pub const KEY_RELEASE_PATH: &str = "/polaris-container/publicKey";

/// What a plan needs besides the spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanContext {
    pub deployment_id: DeploymentId,
    /// Entra tenant of the subscription; the vault is bound to it.
    pub tenant_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The spec fails validation (it was not parsed with `parse_spec`, or the rules changed
    /// since it was stored).
    #[error(transparent)]
    InvalidSpec(#[from] SpecErrors),
    #[error("tenant id `{0}` is not a GUID; the vault needs the subscription's tenant")]
    BadTenantId(String),
    /// Unreachable after validation; kept so a hole in the rules cannot panic.
    #[error("location `{0}` has no attestation endpoint and the spec sets no maa_endpoint")]
    NoAttestationEndpoint(String),
}

/// Builds the plan of a valid spec.
///
/// # Guarantees
/// * Steps are topologically ordered; dependencies name only earlier steps.
/// * The network chain and the identity/vault/key chain do not wait for each other.
/// * No body holds a secret value: only `${secret:<key>}` placeholders.
/// * The same inputs give an identical plan.
pub fn build_plan(spec: &DeploymentSpec, ctx: &PlanContext) -> Result<Plan, PlanError> {
    spec.validate()?;
    if spec.enable_key_vault && !is_guid(&ctx.tenant_id) {
        return Err(PlanError::BadTenantId(ctx.tenant_id.clone()));
    }

    let mut b = Builder::new(spec, ctx);
    b.resource_group();
    let security = b.security()?;
    match spec.compute_kind() {
        ComputeKind::ContainerGroup => {
            let subnet = b.aci_network();
            b.container_group(subnet.as_deref(), security.as_ref());
        }
        ComputeKind::ConfidentialVm => {
            let subnet = b.vm_network();
            b.vm(&subnet, security.as_ref());
        }
    }
    b.add_warnings();
    Ok(b.finish())
}

/// Names of what enhanced mode creates, for the consumers.
struct Security {
    identity_id: String,
    vault_name: String,
    key_name: String,
    maa_host: String,
}

struct Builder<'a> {
    spec: &'a DeploymentSpec,
    ctx: &'a PlanContext,
    names: ResourceNames,
    scope: Scope,
    tags: Value,
    steps: Vec<PlannedStep>,
    outputs: Vec<OutputBinding>,
    warnings: Vec<String>,
}

impl<'a> Builder<'a> {
    fn new(spec: &'a DeploymentSpec, ctx: &'a PlanContext) -> Self {
        let names = spec.names();
        let scope = Scope {
            subscription_id: spec.subscription_id.to_ascii_lowercase(),
            resource_group: names.resource_group.clone(),
        };
        Self {
            spec,
            ctx,
            tags: arm::tags(&ctx.deployment_id, &spec.tags),
            names,
            scope,
            steps: Vec::new(),
            outputs: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn step(&mut self, name: &str, depends_on: &[&str], kind: StepKind, deadline_secs: u64) {
        let depends_on = depends_on.iter().map(|d| StepName::new(*d)).collect();
        self.steps.push(PlannedStep { name: StepName::new(name), depends_on, kind, deadline_secs });
    }

    fn output(&mut self, name: &str, source: OutputSource) {
        self.outputs.push(OutputBinding { name: name.to_owned(), source });
    }

    fn literal(value: &str) -> OutputSource {
        OutputSource::Literal { value: value.to_owned() }
    }

    fn from_step(step: &str, output: &str) -> OutputSource {
        OutputSource::Step { step: StepName::new(step), output: output.to_owned() }
    }

    fn location(&self) -> &str {
        &self.spec.location
    }

    fn resource_group(&mut self) {
        let body = serde_json::json!({ "location": self.location(), "tags": self.tags });
        let resource = arm_resource(self.scope.resource_group_id(), arm::RESOURCES_API, body);
        self.step(steps::RESOURCE_GROUP, &[], StepKind::Arm(resource), deadlines::RESOURCE_GROUP);
        let rg = self.names.resource_group.clone();
        self.output("resource_group_name", Self::literal(&rg));
    }

    /// Identity, vault, key and role assignment; they depend on the resource group only,
    /// never on the network chain.
    fn security(&mut self) -> Result<Option<Security>, PlanError> {
        let spec = self.spec;
        if !spec.enable_key_vault {
            for name in ["key_vault_name", "key_vault_uri", "key_name"] {
                self.output(name, OutputSource::Null);
            }
            return Ok(None);
        }
        let no_endpoint = || PlanError::NoAttestationEndpoint(spec.location.clone());
        let maa_host = spec.maa_host().ok_or_else(no_endpoint)?;
        let release = spec.effective_release_policy().ok_or_else(no_endpoint)?;

        let identity_id = self.identity();
        let (vault_id, vault_name) = self.vault();
        let (key_id, key_name) = self.key(&vault_id, &release);
        self.role_assignment(&key_id);

        self.output("key_vault_name", Self::literal(&vault_name));
        self.output("key_vault_uri", Self::from_step(steps::VAULT, "uri"));
        self.output("key_name", Self::literal(&key_name));
        Ok(Some(Security { identity_id, vault_name, key_name, maa_host }))
    }

    fn identity(&mut self) -> String {
        let path = format!("userAssignedIdentities/{}", self.names.identity);
        let id = self.scope.resource("Microsoft.ManagedIdentity", &path);
        let body = keyvault::identity_body(self.location(), &self.tags);
        let mut identity = arm_resource(id.clone(), arm::MANAGED_IDENTITY_API, body);
        identity.outputs = vec![
            selector("principal_id", "/properties/principalId"),
            selector("client_id", "/properties/clientId"),
        ];
        let kind = StepKind::Arm(identity);
        self.step(steps::IDENTITY, &[steps::RESOURCE_GROUP], kind, deadlines::IDENTITY);
        id
    }

    fn vault(&mut self) -> (String, String) {
        let spec = self.spec;
        let name = naming::vault_name(&self.names.base, &self.ctx.deployment_id);
        let id = self.scope.resource("Microsoft.KeyVault", &format!("vaults/{name}"));
        let body = keyvault::vault_body(
            self.location(),
            &self.tags,
            &self.ctx.tenant_id,
            spec.key_vault_soft_delete_retention_days,
            spec.key_vault_purge_protection,
        );
        let mut arm = arm_resource(id.clone(), arm::KEY_VAULT_API, body);
        arm.outputs = vec![selector("uri", "/properties/vaultUri")];

        let vault = VaultResource {
            arm,
            name: name.clone(),
            location: spec.location.clone(),
            subscription_id: self.scope.subscription_id.clone(),
            purge_protection: spec.key_vault_purge_protection,
        };
        self.step(steps::VAULT, &[steps::RESOURCE_GROUP], StepKind::Vault(vault), deadlines::VAULT);
        (id, name)
    }

    fn key(&mut self, vault_id: &str, release: &ReleasePolicy) -> (String, String) {
        let days = self.spec.key_rotation_days;
        let name = self.names.key.clone();
        let id = format!("{vault_id}/keys/{name}");
        let rotation = (days > 0).then(|| RotationPolicy::every(days));
        let body = keyvault::key_body(&self.tags, release, rotation.as_ref());
        let mut arm = arm_resource(id.clone(), arm::KEY_VAULT_API, body);
        arm.outputs = vec![selector("key_uri", "/properties/keyUriWithVersion")];

        let key = KeyResource { arm, name: name.clone(), release_policy_json: release.to_json() };
        self.step(steps::KEY, &[steps::VAULT], StepKind::Key(key), deadlines::KEY);
        (id, name)
    }

    /// Scoped to the key alone, named deterministically (see `keyvault::role_assignment_name`).
    fn role_assignment(&mut self, key_id: &str) {
        let assignment = keyvault::role_assignment_name(&self.ctx.deployment_id, "key-release");
        let principal = format!("${{{}.principal_id}}", steps::IDENTITY);
        let role = ArmResource {
            id: format!("{key_id}/providers/Microsoft.Authorization/roleAssignments/{assignment}"),
            api_version: arm::AUTHORIZATION_API.to_owned(),
            body: keyvault::role_assignment_body(&self.scope.subscription_id, &principal),
            ownership: Ownership::DeterministicName,
            outputs: Vec::new(),
        };
        let deps = [steps::IDENTITY, steps::KEY];
        self.step(steps::ROLE_ASSIGNMENT, &deps, StepKind::Arm(role), deadlines::ROLE_ASSIGNMENT);
    }

    /// Public groups cannot join a VNet, so only Private creates or verifies one. Returns the
    /// subnet id the group must use.
    fn aci_network(&mut self) -> Option<String> {
        if self.spec.networking_type == NetworkingType::Public {
            return None;
        }
        let ranges = self.spec.polaris_proxy_source_ranges.clone();
        Some(self.subnet(&ranges, &[], true))
    }

    /// The VM's NIC always needs a subnet, and that subnet must not be delegated (B09).
    fn vm_network(&mut self) -> String {
        let ranges = self.spec.polaris_proxy_source_ranges.clone();
        let ssh = self.spec.vm_settings().ssh_source_ranges;
        self.subnet(&ranges, &ssh, false)
    }

    /// New VNet: `nsg`, `vnet`, `subnet` steps. Existing VNet: a `subnet` Verify step.
    fn subnet(&mut self, proxy_sources: &[String], ssh_sources: &[String], aci: bool) -> String {
        let spec = self.spec;
        if !spec.new_vnet_enabled {
            let vnet_scope = self.scope.in_group(&spec.vnet_resource_group);
            let id = vnet_scope.resource(
                "Microsoft.Network",
                &format!("virtualNetworks/{}/subnets/{}", spec.vnet_name, spec.subnet_name),
            );
            let check = if aci {
                VerifyCheck::SubnetDelegatedTo { service: network::ACI_DELEGATION_SERVICE.into() }
            } else {
                VerifyCheck::SubnetUndelegated
            };
            let verify = VerifyResource {
                id: id.clone(),
                api_version: arm::NETWORK_API.to_owned(),
                check,
                outputs: vec![selector("id", "/id")],
            };
            // No dependencies: the check runs before anything is created.
            self.step(steps::SUBNET, &[], StepKind::Verify(verify), deadlines::VERIFY);
            return id;
        }

        let nsg_id = self.nsg_id();
        let body = network::nsg_body(
            self.location(),
            &self.tags,
            spec.polaris_proxy_port,
            proxy_sources,
            ssh_sources,
        );
        let nsg = arm_resource(nsg_id.clone(), arm::NETWORK_API, body);
        self.step(steps::NSG, &[steps::RESOURCE_GROUP], StepKind::Arm(nsg), deadlines::NETWORK);

        let vnet_id = self
            .scope
            .resource("Microsoft.Network", &format!("virtualNetworks/{}", self.names.vnet));
        let body = network::vnet_body(self.location(), &self.tags, &spec.vnet_address_space);
        let vnet = arm_resource(vnet_id.clone(), arm::NETWORK_API, body);
        self.step(steps::VNET, &[steps::RESOURCE_GROUP], StepKind::Arm(vnet), deadlines::NETWORK);

        let subnet_id = format!("{vnet_id}/subnets/{}", spec.subnet_name);
        let subnet = ArmResource {
            id: subnet_id.clone(),
            api_version: arm::NETWORK_API.to_owned(),
            body: network::subnet_body(&spec.subnet_address_prefix, &nsg_id, aci),
            ownership: Ownership::Parent(StepName::new(steps::VNET)),
            outputs: Vec::new(),
        };
        self.step(
            steps::SUBNET,
            &[steps::VNET, steps::NSG],
            StepKind::Arm(subnet),
            deadlines::NETWORK,
        );
        subnet_id
    }

    fn container_group(&mut self, subnet_id: Option<&str>, security: Option<&Security>) {
        let spec = self.spec;
        let key_release = security.map(|s| KeyRelease {
            maa_host: &s.maa_host,
            vault_name: &s.vault_name,
            key_name: &s.key_name,
            release_endpoint: container_group::key_release_endpoint(),
        });
        let ctx = GroupContext {
            location: &spec.location,
            tags: &self.tags,
            identity_id: security.map(|s| s.identity_id.as_str()),
            subnet_id,
            key_release,
        };
        let body = container_group::container_group_body(spec, &ctx);

        let name = self.names.container_group.clone();
        let id =
            self.scope.resource("Microsoft.ContainerInstance", &format!("containerGroups/{name}"));
        let mut group = arm_resource(id, arm::CONTAINER_INSTANCE_API, body);
        group.outputs = vec![selector("ip", "/properties/ipAddress/ip")];
        let public = spec.networking_type == NetworkingType::Public;
        let has_fqdn = public && !spec.dns_name_label.is_empty();
        if has_fqdn {
            group.outputs.push(selector("fqdn", "/properties/ipAddress/fqdn"));
        }

        let mut deps = vec![steps::RESOURCE_GROUP];
        if subnet_id.is_some() {
            deps.push(steps::SUBNET);
        }
        if security.is_some() {
            deps.extend([steps::IDENTITY, steps::KEY, steps::ROLE_ASSIGNMENT]);
        }
        self.step(steps::CONTAINER_GROUP, &deps, StepKind::Arm(group), deadlines::CONTAINER_GROUP);
        self.health_check(steps::CONTAINER_GROUP, &format!("${{{}.ip}}", steps::CONTAINER_GROUP));

        self.output("container_group_name", Self::literal(&name));
        let ip =
            if public { Self::from_step(steps::CONTAINER_GROUP, "ip") } else { OutputSource::Null };
        self.output("container_group_ip", ip);
        let fqdn = if has_fqdn {
            Self::from_step(steps::CONTAINER_GROUP, "fqdn")
        } else {
            OutputSource::Null
        };
        self.output("container_group_fqdn", fqdn);
    }

    fn vm(&mut self, subnet_id: &str, security: Option<&Security>) {
        let spec = self.spec;
        let settings = spec.vm_settings();
        let public = spec.networking_type == NetworkingType::Public;

        // A new VNet's NSG comes with the subnet; for an existing VNet the NIC gets its own.
        let nsg_id = if spec.new_vnet_enabled { self.nsg_id() } else { self.vm_nsg() };
        let public_ip_id = public.then(|| self.public_ip(&settings));
        let nic_id = self.nic(subnet_id, &nsg_id, public_ip_id.as_deref());

        let key_release = security.map(|s| KeyRelease {
            maa_host: &s.maa_host,
            vault_name: &s.vault_name,
            key_name: &s.key_name,
            release_endpoint: vm::vm_key_release_endpoint(),
        });
        let ctx = VmContext {
            location: &spec.location,
            tags: &self.tags,
            computer_name: &self.names.vm,
            os_disk_name: &self.names.os_disk,
            nic_id: &nic_id,
            identity_id: security.map(|s| s.identity_id.as_str()),
            key_release,
        };
        let body = vm::vm_body(spec, &settings, &ctx);
        let vm_name = self.names.vm.clone();
        let vm_id = self.scope.resource("Microsoft.Compute", &format!("virtualMachines/{vm_name}"));
        let machine = arm_resource(vm_id.clone(), arm::COMPUTE_API, body);
        let mut deps = vec![steps::RESOURCE_GROUP, steps::NIC];
        if security.is_some() {
            deps.extend([steps::IDENTITY, steps::KEY, steps::ROLE_ASSIGNMENT]);
        }
        self.step(steps::VM, &deps, StepKind::Arm(machine), deadlines::VM);

        let host = if public {
            format!("${{{}.ip}}", steps::PUBLIC_IP)
        } else {
            format!("${{{}.private_ip}}", steps::NIC)
        };
        self.health_check(steps::VM, &host);

        self.output("virtual_machine_name", Self::literal(&vm_name));
        self.output("virtual_machine_id", Self::literal(&vm_id));
        let ip = if public { Self::from_step(steps::PUBLIC_IP, "ip") } else { OutputSource::Null };
        self.output("virtual_machine_public_ip", ip);
    }

    /// The VM's NIC, on the undelegated subnet, behind the NSG.
    fn nic(&mut self, subnet_id: &str, nsg_id: &str, public_ip_id: Option<&str>) -> String {
        let path = format!("networkInterfaces/{}", self.names.nic);
        let id = self.scope.resource("Microsoft.Network", &path);
        let body = network::nic_body(self.location(), &self.tags, subnet_id, public_ip_id, nsg_id);
        let mut nic = arm_resource(id.clone(), arm::NETWORK_API, body);
        let private_ip = "/properties/ipConfigurations/0/properties/privateIPAddress";
        nic.outputs = vec![selector("private_ip", private_ip)];

        let mut deps = vec![steps::RESOURCE_GROUP, steps::SUBNET, steps::NSG];
        if public_ip_id.is_some() {
            deps.push(steps::PUBLIC_IP);
        }
        self.step(steps::NIC, &deps, StepKind::Arm(nic), deadlines::NETWORK);
        id
    }

    fn nsg_id(&self) -> String {
        let path = format!("networkSecurityGroups/{}", self.names.nsg);
        self.scope.resource("Microsoft.Network", &path)
    }

    /// The VM's NSG when the VNet exists already (attached to the NIC only).
    fn vm_nsg(&mut self) -> String {
        let spec = self.spec;
        let nsg_id = self.nsg_id();
        let ssh = spec.vm_settings().ssh_source_ranges;
        let body = network::nsg_body(
            self.location(),
            &self.tags,
            spec.polaris_proxy_port,
            &spec.polaris_proxy_source_ranges,
            &ssh,
        );
        let nsg = arm_resource(nsg_id.clone(), arm::NETWORK_API, body);
        self.step(steps::NSG, &[steps::RESOURCE_GROUP], StepKind::Arm(nsg), deadlines::NETWORK);
        nsg_id
    }

    fn public_ip(&mut self, settings: &VmSpec) -> String {
        let id = self
            .scope
            .resource("Microsoft.Network", &format!("publicIPAddresses/{}", self.names.public_ip));
        let body = network::public_ip_body(
            self.location(),
            &self.tags,
            &self.spec.dns_name_label,
            settings.zone.as_deref(),
        );
        let mut pip = arm_resource(id.clone(), arm::NETWORK_API, body);
        pip.outputs = vec![selector("ip", "/properties/ipAddress")];
        self.step(
            steps::PUBLIC_IP,
            &[steps::RESOURCE_GROUP],
            StepKind::Arm(pip),
            deadlines::NETWORK,
        );
        id
    }

    fn health_check(&mut self, after: &str, host: &str) {
        let check = HealthCheckSpec {
            host: host.to_owned(),
            port: self.spec.polaris_proxy_port,
            health_path: HEALTH_PATH.to_owned(),
            key_release_path: self.spec.enable_key_vault.then(|| KEY_RELEASE_PATH.to_owned()),
        };
        self.step(steps::HEALTH_CHECK, &[after], StepKind::HealthCheck(check), deadlines::HEALTH);
    }

    fn add_warnings(&mut self) {
        let spec = self.spec;
        let aci = spec.compute_kind() == ComputeKind::ContainerGroup;
        let public = spec.networking_type == NetworkingType::Public;
        let open = spec.polaris_proxy_source_ranges == ["0.0.0.0/0"];

        let base = crate::spec::naming::sanitize(&spec.name);
        if base != spec.name {
            self.warnings.push(format!(
                "name `{}` is used as `{base}` in resource names (lower case letters, digits and \
                 '-' only)",
                spec.name
            ));
        }
        if aci && public && spec.new_vnet_enabled {
            self.warnings.push(
                "new_vnet_enabled has no effect with Public networking: a public container group \
                 cannot join a VNet, so none is created"
                    .into(),
            );
        }
        if aci && spec.enable_key_vault && spec.cce_policy.is_none() {
            self.warnings.push(
                "no cce_policy: the key's release policy does not pin x-ms-sevsnpvm-hostdata, so \
                 the key is not bound to these containers (any compliant confidential group \
                 holding the release role could obtain it); generate one with \
                 `az confcom acipolicygen`"
                    .into(),
            );
        }
        if !spec.enable_key_vault {
            self.warnings.push(
                "standard mode: the proxy uses an ephemeral key and the group runs on the Standard \
                 SKU, without hardware attestation"
                    .into(),
            );
        }
        if aci && !public && !spec.new_vnet_enabled && !open {
            self.warnings.push(format!(
                "polaris_proxy_source_ranges is not enforced on the existing subnet `{}`: attach a \
                 network security group to it yourself",
                spec.subnet_name
            ));
        }
        if !public {
            self.warnings.push(
                "Private networking: the health check probes a private IP, so the orchestrator \
                 must run with access to the VNet"
                    .into(),
            );
        }
    }

    fn finish(mut self) -> Plan {
        // The module's output order; the VM variant's outputs follow in insertion order.
        const ORDER: [&str; 7] = super::model::MODULE_OUTPUTS;
        let rank = |name: &str| ORDER.iter().position(|o| *o == name).unwrap_or(ORDER.len());
        self.outputs.sort_by_key(|o| rank(&o.name));

        Plan {
            deployment_id: self.ctx.deployment_id.clone(),
            subscription_id: self.scope.subscription_id,
            location: self.spec.location.clone(),
            mode: self.spec.mode(),
            compute: self.spec.compute_kind(),
            steps: self.steps,
            outputs: self.outputs,
            warnings: self.warnings,
        }
    }
}

/// A tagged resource with no outputs yet.
fn arm_resource(id: String, api_version: &str, body: Value) -> ArmResource {
    ArmResource {
        id,
        api_version: api_version.to_owned(),
        body,
        ownership: Ownership::Tag,
        outputs: Vec::new(),
    }
}

fn selector(name: &str, pointer: &str) -> OutputSelector {
    OutputSelector { name: name.to_owned(), pointer: pointer.to_owned() }
}

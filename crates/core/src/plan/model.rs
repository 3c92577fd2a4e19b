//! The plan: every step of a deployment, what it puts into Azure and what it waits for.
//!
//! A plan is a pure function of the spec and the deployment id, so it is never persisted:
//! each invocation rebuilds it from the (redacted) spec kept in saga state. Bodies never hold
//! secrets; they hold `${secret:<key>}` placeholders that the executor resolves from the
//! secret store right before a request leaves the process.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, StepName};

/// Tag key that marks a resource as created by a deployment; the value is the deployment id.
/// Every delete checks it first, so we never remove what we did not create.
pub const OWNER_TAG: &str = "polaris-deployment";

/// Tag that tells a human which tool manages the resource.
pub const MANAGED_BY_TAG: &str = "managed-by";
pub const MANAGED_BY_VALUE: &str = "polaris-orchestrator";

/// Where the inference endpoint runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeKind {
    ContainerGroup,
    ConfidentialVm,
}

/// Standard (ephemeral keys) or enhanced (Key Vault + secure key release).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Standard,
    Enhanced,
}

/// Everything a deployment will do, in dependency order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub deployment_id: DeploymentId,
    pub subscription_id: String,
    /// ARM location name (`westeurope`), normalised from the spec.
    pub location: String,
    pub mode: Mode,
    pub compute: ComputeKind,
    /// Topologically ordered: every step comes after the steps it depends on.
    pub steps: Vec<PlannedStep>,
    /// The module's outputs, by their module names, and where each value comes from.
    pub outputs: Vec<OutputBinding>,
    /// Things the user should know that do not stop the deployment (e.g. key not bound to a
    /// CCE policy).
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn step(&self, name: &StepName) -> Option<&PlannedStep> {
        self.steps.iter().find(|s| &s.name == name)
    }
}

/// One node of the dependency graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub name: StepName,
    pub depends_on: Vec<StepName>,
    pub kind: StepKind,
    /// How long the forward action may stay in progress before the step fails with
    /// `StepDeadlineExceeded` (field report B12).
    pub deadline_secs: u64,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// An ARM resource: GET, adopt if ours, else PUT; poll to a terminal state; DELETE on undo.
    Arm(ArmResource),
    /// A Key Vault: like `Arm`, plus soft-delete recovery on create (B01) and purge on undo
    /// unless purge protection forbids it (B27).
    Vault(VaultResource),
    /// An exportable HSM key created through ARM (create-if-not-exist), read back and compared
    /// with the release policy we sent (B03). Removed with its vault, so it has no own undo.
    Key(KeyResource),
    /// A resource we reference but never create or delete (an existing VNet's subnet): check it
    /// before anything depends on it (B09).
    Verify(VerifyResource),
    /// Proxy liveness plus key-release readiness in enhanced mode (B30).
    HealthCheck(HealthCheckSpec),
}

/// How the undo path proves a resource is ours before deleting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "step")]
pub enum Ownership {
    /// The resource carries `OWNER_TAG = <deployment id>`.
    Tag,
    /// Child resources without tags (subnets): ours when the named parent step's resource is.
    Parent(StepName),
    /// Resources without tags whose name is a GUID derived from the deployment id (role
    /// assignments): nobody else can have created that name.
    DeterministicName,
}

/// A JSON pointer into the terminal resource body whose value becomes a step output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputSelector {
    pub name: String,
    /// RFC 6901 pointer, e.g. `/properties/principalId`.
    pub pointer: String,
}

/// A resource addressed by its ARM id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmResource {
    /// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`: no host, so the
    /// same plan serves Azure and the simulator.
    pub id: String,
    pub api_version: String,
    /// The PUT body. Strings may hold `${<step>.<output>}` and `${secret:<key>}` placeholders.
    pub body: serde_json::Value,
    pub ownership: Ownership,
    /// Values recorded in saga state once the resource is terminal.
    pub outputs: Vec<OutputSelector>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaultResource {
    pub arm: ArmResource,
    pub name: String,
    pub location: String,
    pub subscription_id: String,
    pub purge_protection: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyResource {
    pub arm: ArmResource,
    pub name: String,
    /// The exact UTF-8 JSON of the release policy; the body carries its base64 form.
    pub release_policy_json: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum VerifyCheck {
    /// The subnet exists and is delegated to this service (ACI needs
    /// `Microsoft.ContainerInstance/containerGroups`).
    SubnetDelegatedTo { service: String },
    /// The subnet exists and has no delegation (a VM NIC cannot use a delegated subnet).
    SubnetUndelegated,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyResource {
    pub id: String,
    pub api_version: String,
    pub check: VerifyCheck,
    pub outputs: Vec<OutputSelector>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckSpec {
    /// Host to probe; usually a placeholder such as `${container_group.ip}`.
    pub host: String,
    pub port: u16,
    /// Liveness path (`/polaris-container/health`).
    pub health_path: String,
    /// Readiness path that forces key release (`/polaris-container/publicKey`); `None` in
    /// standard mode.
    pub key_release_path: Option<String>,
}

/// Where a module output's value comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputBinding {
    /// Module output name (`resource_group_name`, `container_group_ip`, ...).
    pub name: String,
    pub source: OutputSource,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum OutputSource {
    /// Known at plan time.
    Literal { value: String },
    /// Recorded by a step (`container_group.ip`).
    Step { step: StepName, output: String },
    /// Not produced in this mode (the module returns null).
    Null,
}

/// The module's outputs, in the order its README lists them.
pub const MODULE_OUTPUTS: [&str; 7] = [
    "resource_group_name",
    "container_group_name",
    "container_group_ip",
    "container_group_fqdn",
    "key_vault_name",
    "key_vault_uri",
    "key_name",
];

/// Resolved output values, by module output name; `None` is the module's null.
pub type Outputs = BTreeMap<String, Option<String>>;

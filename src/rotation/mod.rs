//! Scheduled key rotation (`RotateKeys` timer, `POST /api/deployments/{id}/rotate-key`).
//!
//! For each succeeded enhanced deployment whose key is older than its `key_rotation_days`, a
//! new key version is created through the Key Vault data plane with the exportable flag and
//! the exact release policy bytes of the current version. The new version is read back and
//! must still be exportable and carry the intended policy (B04), or the run reports failure:
//! a version without it could never be released to the workload. The container group is
//! restarted only when the spec asks (`restart_on_key_rotation`).
//!
//! A timer may fire twice for one occurrence (host retries, two instances). Each run has a
//! schedule slot; a create-only record `rotations/<id>/<slot>.json` plus a lease on it make
//! sure one run rotates a deployment once per slot, and a crashed run is resumed by adopting
//! the version it created instead of creating another.

mod backend;
mod record;
mod slot;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use polaris_core::ids::DeploymentId;
use polaris_core::plan::model::{KeyResource, StepKind};
use polaris_core::saga::{DeploymentStatus, SagaState};
use polaris_core::spec::DeploymentSpec;
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::app::App;
use crate::error::WorkerError;
use crate::planning::plan_for;

pub use backend::{
    BackendError, GroupRestarter, KeyDataPlane, KeyVersionInfo, decode_policy, key_info,
};
pub use record::{StateNote, note};
pub use slot::{RotationRun, SlotClaim};

/// Output names rotation adds next to the module's outputs.
pub const KEY_VERSION_OUTPUT: &str = "key_version";
pub const KEY_ROTATED_AT_OUTPUT: &str = "key_rotated_at";

/// The Azure clients rotation calls.
#[derive(Clone)]
pub struct Rotation {
    pub keys: Arc<dyn KeyDataPlane>,
    pub groups: Arc<dyn GroupRestarter>,
}

impl Rotation {
    pub fn new(keys: Arc<dyn KeyDataPlane>, groups: Arc<dyn GroupRestarter>) -> Self {
        Self { keys, groups }
    }

    /// The same clients the executor uses, from one [`polaris_azure::AzureSetup`].
    pub fn from_setup(
        setup: &polaris_azure::AzureSetup,
    ) -> Result<Self, polaris_azure::SetupError> {
        let credential = setup.credential.build()?;
        let settings =
            polaris_azure::ClientSettings::new(&setup.transport)?.with_retry(setup.retry.clone());
        let arm = polaris_azure::ArmClient::new(
            setup.arm_endpoint.clone(),
            credential.clone(),
            &settings,
        );
        let keys =
            polaris_azure::KeyVaultClient::new(credential, setup.vault_urls.clone(), &settings);
        Ok(Self::new(Arc::new(keys), Arc::new(arm)))
    }

    /// Clients for the simulated Azure of an embedded runtime (loopback, local credential).
    pub fn for_simulator(sim: &polaris_sim::SimHandle) -> Result<Self, RotationSetupError> {
        let endpoint = url::Url::parse(&sim.arm_endpoint())
            .map_err(|e| RotationSetupError::Endpoint(e.to_string()))?;
        let setup = polaris_azure::AzureSetup::simulator(endpoint, sim.ca_certificate_pem());
        Ok(Self::from_setup(&setup)?)
    }
}

/// What happened to one deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RotationOutcome {
    Rotated {
        version: String,
        previous_version: Option<String>,
        restarted: bool,
    },
    /// The key is younger than its rotation interval.
    NotDue {
        due_at: String,
    },
    /// Another run already rotated this deployment in this slot.
    AlreadyRotated {
        slot: String,
    },
    /// Another run holds this deployment's slot right now.
    InProgressElsewhere {
        slot: String,
    },
    NotApplicable {
        reason: String,
    },
    Failed {
        code: String,
        message: String,
        request_id: Option<String>,
    },
}

/// One deployment's result in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RotationResult {
    pub deployment_id: String,
    pub outcome: RotationOutcome,
}

/// The result of one timer run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RotationReport {
    pub slot: String,
    pub results: Vec<RotationResult>,
}

impl RotationReport {
    pub fn rotated(&self) -> usize {
        self.count(|o| matches!(o, RotationOutcome::Rotated { .. }))
    }

    /// Failures; a timer host should treat a run with any as failed (and retry it).
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, RotationOutcome::Failed { .. }))
    }

    fn count(&self, pick: impl Fn(&RotationOutcome) -> bool) -> usize {
        self.results.iter().filter(|r| pick(&r.outcome)).count()
    }

    fn push(&mut self, deployment_id: String, outcome: RotationOutcome) {
        self.results.push(RotationResult { deployment_id, outcome });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotationSetupError {
    #[error(transparent)]
    Setup(#[from] polaris_azure::SetupError),
    #[error("the simulator endpoint is not a URL: {0}")]
    Endpoint(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Worker(#[from] WorkerError),
}

/// Rotates every succeeded enhanced deployment whose key is due. Never stops at one
/// deployment's failure: each result is in the report.
pub async fn rotate_due(app: &App, rotation: &Rotation, run: &RotationRun) -> RotationReport {
    let mut report = RotationReport { slot: run.slot.clone(), results: Vec::new() };
    let mut after: Option<String> = None;
    loop {
        let page = match app
            .deployments
            .list(Some(DeploymentStatus::Succeeded), after.as_deref(), 100)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list deployments for rotation");
                let failed = RotationOutcome::Failed {
                    code: "StateStoreUnavailable".into(),
                    message: e.to_string(),
                    request_id: None,
                };
                report.push("*".into(), failed);
                return report;
            }
        };
        for state in &page.items {
            let id = state.deployment_id.clone();
            let outcome = match rotate_one(app, rotation, &id, run, false).await {
                Ok(outcome) => outcome,
                Err(e) => RotationOutcome::Failed {
                    code: "StateStoreUnavailable".into(),
                    message: e.to_string(),
                    request_id: None,
                },
            };
            report.push(id.to_string(), outcome);
        }
        match page.continuation {
            Some(next) => after = Some(next),
            None => return report,
        }
    }
}

/// Rotates one deployment's key: when due, or now when `force` (the API's rotate-key).
pub async fn rotate_one(
    app: &App,
    rotation: &Rotation,
    id: &DeploymentId,
    run: &RotationRun,
    force: bool,
) -> Result<RotationOutcome, RotationError> {
    let span = tracing::info_span!("key_rotation", deployment_id = %id, step = "key");
    async move {
        let state = app.deployments.get(id).await?;
        let target = match Target::of(&state) {
            Ok(target) => target,
            Err(reason) => return Ok(RotationOutcome::NotApplicable { reason }),
        };
        if !force && target.spec.key_rotation_days == 0 {
            let reason = "key_rotation_days is 0 (rotation disabled)".to_owned();
            return Ok(RotationOutcome::NotApplicable { reason });
        }

        let claim = SlotClaim::new(app, id, &run.slot);
        if claim.is_done().await? {
            return Ok(RotationOutcome::AlreadyRotated { slot: run.slot.clone() });
        }
        if !force {
            let days = i64::from(target.spec.key_rotation_days);
            let due_at = key_born(&state) + time::Duration::days(days);
            if run.now < due_at {
                return Ok(RotationOutcome::NotDue { due_at: rfc3339(due_at) });
            }
        }

        let Some(held) = claim.take(run.now).await? else {
            return Ok(RotationOutcome::InProgressElsewhere { slot: run.slot.clone() });
        };
        let result = if held.done {
            Ok(RotationOutcome::AlreadyRotated { slot: run.slot.clone() })
        } else {
            rotate_claimed(app, rotation, &target, id, run, held.claimed_at).await
        };
        if matches!(result, Ok(RotationOutcome::Rotated { .. })) {
            claim.mark_done().await?;
        }
        claim.release(held).await;
        result
    }
    .instrument(span)
    .await
}

/// What a deployment's plan says about its key.
struct Target {
    spec: DeploymentSpec,
    vault: String,
    key: KeyResource,
    /// The container group's ARM id and api-version, when the compute is a container group.
    group: Option<(String, String)>,
}

impl Target {
    fn of(state: &SagaState) -> Result<Self, String> {
        if state.status != DeploymentStatus::Succeeded {
            return Err(format!("the deployment is {}, not succeeded", state.status.as_str()));
        }
        let spec: DeploymentSpec =
            serde_json::from_value(state.spec.clone()).map_err(|e| e.to_string())?;
        let plan = plan_for(state).map_err(|e| e.to_string())?;
        let mut vault = None;
        let mut key = None;
        let mut group = None;
        for step in &plan.steps {
            match &step.kind {
                StepKind::Vault(v) => vault = Some(v.name.clone()),
                StepKind::Key(k) => key = Some(k.clone()),
                StepKind::Arm(r)
                    if r.id.contains("/Microsoft.ContainerInstance/containerGroups/") =>
                {
                    group = Some((r.id.clone(), r.api_version.clone()));
                }
                _ => {}
            }
        }
        match (vault, key) {
            (Some(vault), Some(key)) => Ok(Self { spec, vault, key, group }),
            _ => Err("standard mode: the deployment has no Key Vault key".to_owned()),
        }
    }
}

async fn rotate_claimed(
    app: &App,
    rotation: &Rotation,
    target: &Target,
    id: &DeploymentId,
    run: &RotationRun,
    claimed_at: OffsetDateTime,
) -> Result<RotationOutcome, RotationError> {
    let keys = rotation.keys.as_ref();
    let (vault, name) = (target.vault.as_str(), target.key.name.as_str());
    let intended = target.key.release_policy_json.as_bytes();

    let current = match keys.get_key(vault, name, None).await {
        Ok(current) => current,
        Err(e) => return Ok(failed(app, id, run, e).await),
    };

    // A run that crashed after creating the version finds it here and adopts it.
    let resumed = current.created.is_some_and(|c| c >= claimed_at.unix_timestamp());
    let (previous, created) = if resumed {
        tracing::info!(version = %current.version, "adopting the version a crashed run created");
        (None, current)
    } else {
        if let Err(why) = check_version(&current, None, intended) {
            let e = BackendError {
                code: "KeyDrifted".into(),
                message: format!("current key version {} {why}; not rotating", current.version),
                request_id: current.request_id.clone(),
            };
            return Ok(failed(app, id, run, e).await);
        }
        let body = new_version_body(&current);
        match keys.create_version(vault, name, &body).await {
            Ok(created) => (Some(current), created),
            Err(e) => return Ok(failed(app, id, run, e).await),
        }
    };

    // The B04 post-condition, on a fresh read of exactly the new version.
    let read = match keys.get_key(vault, name, Some(&created.version)).await {
        Ok(read) => read,
        Err(e) => return Ok(failed(app, id, run, e).await),
    };
    let same_as = previous.as_ref().and_then(|p| p.policy_bytes.as_deref());
    if let Err(why) = check_version(&read, same_as, intended) {
        let e = BackendError {
            code: "RotationPostConditionFailed".into(),
            message: format!("new key version {} {why}", read.version),
            request_id: read.request_id.clone(),
        };
        return Ok(failed(app, id, run, e).await);
    }

    let mut restarted = false;
    let mut request_id = read.request_id.clone();
    if target.spec.restart_on_key_rotation
        && let Some((group, api_version)) = &target.group
    {
        match rotation.groups.restart(group, api_version).await {
            Ok(rid) => {
                restarted = true;
                request_id = rid.or(request_id);
            }
            Err(e) => return Ok(failed(app, id, run, e).await),
        }
    }

    let detail = format!(
        "new key version {} (slot {}){}",
        read.version,
        run.slot,
        if restarted { "; container group restarted" } else { "" }
    );
    let outputs = vec![
        (KEY_VERSION_OUTPUT.to_owned(), read.version.clone()),
        (KEY_ROTATED_AT_OUTPUT.to_owned(), rfc3339(run.now)),
    ];
    let entry = StateNote { event: "key_rotated", detail, request_id, outputs, once: true };
    note(&app.worker, id, &entry, run.now).await?;
    tracing::info!(version = %read.version, restarted, "key rotated");
    Ok(RotationOutcome::Rotated {
        version: read.version,
        previous_version: previous.map(|p| p.version),
        restarted,
    })
}

/// Exportable, and a release policy equal to the intended one; with `same_as`, also
/// byte-for-byte equal to the version it replaces.
fn check_version(
    v: &KeyVersionInfo,
    same_as: Option<&[u8]>,
    intended: &[u8],
) -> Result<(), String> {
    if v.exportable != Some(true) {
        return Err(format!("is not exportable (exportable = {:?})", v.exportable));
    }
    let Some(bytes) = v.policy_bytes.as_deref() else {
        return Err("has no release policy".to_owned());
    };
    if let Some(expected) = same_as
        && bytes != expected
    {
        return Err("has a release policy that differs from the previous version's".to_owned());
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let wanted: Option<serde_json::Value> = serde_json::from_slice(intended).ok();
    if parsed.is_none() || parsed != wanted {
        return Err("has a release policy other than the configured one".to_owned());
    }
    Ok(())
}

/// The create body: same key type, size and operations, exportable, and the exact policy
/// bytes of the current version.
fn new_version_body(current: &KeyVersionInfo) -> serde_json::Value {
    let bytes = current.policy_bytes.as_deref().unwrap_or_default();
    let content_type = current
        .policy_content_type
        .clone()
        .unwrap_or_else(|| "application/json; charset=utf-8".to_owned());
    let mut body = json!({
        "kty": current.kty.clone().unwrap_or_else(|| "RSA-HSM".to_owned()),
        "attributes": { "enabled": true, "exportable": true },
        "release_policy": { "contentType": content_type, "data": URL_SAFE_NO_PAD.encode(bytes) },
    });
    if let Some(size) = current.key_size {
        body["key_size"] = json!(size);
    }
    if !current.key_ops.is_empty() {
        body["key_ops"] = json!(current.key_ops);
    }
    body
}

/// Records a failed run in history and returns it as the outcome.
async fn failed(
    app: &App,
    id: &DeploymentId,
    run: &RotationRun,
    e: BackendError,
) -> RotationOutcome {
    tracing::warn!(code = %e.code, request_id = ?e.request_id, "key rotation failed");
    let entry = StateNote {
        event: "key_rotation_failed",
        detail: format!("slot {}: {}", run.slot, e.message),
        request_id: e.request_id.clone(),
        outputs: Vec::new(),
        once: true,
    };
    if let Err(err) = note(&app.worker, id, &entry, run.now).await {
        tracing::warn!(error = %err, "could not record the failed rotation");
    }
    RotationOutcome::Failed { code: e.code, message: e.message, request_id: e.request_id }
}

/// When the current key version was made: the last rotation, else the key step's success.
fn key_born(state: &SagaState) -> OffsetDateTime {
    let rotated = state.history.iter().rev().find(|h| h.event == "key_rotated");
    let created =
        state.history.iter().rev().find(|h| {
            h.event == "succeeded" && h.step.as_ref().is_some_and(|s| s.as_str() == "key")
        });
    rotated.or(created).map(|h| h.at).unwrap_or(state.created_at)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

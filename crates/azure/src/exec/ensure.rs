//! `Ensure` and `EnsureVault`: observe, then adopt what is ours, refuse what is not, and
//! create what is missing.

use polaris_core::action::{FailureClass, Outcome, StepFailure};
use polaris_core::ids::DeploymentId;
use polaris_core::plan::model::{
    ArmResource, OWNER_TAG, OutputSelector, Ownership, VaultResource,
};
use serde_json::Value;
use tracing::debug;

use super::classify::{FailureFacts, classify};
use super::{Invocation, done, failure, instance_view, outputs, track};
use crate::error::ArmError;
use crate::response::ArmResponse;

/// Codes with which a vault PUT reports a name held by a soft-deleted vault (B01).
const SOFT_DELETE_CONFLICT_CODES: &[&str] = &["ConflictError", "VaultAlreadyExists"];

/// The terminal-or-not reading of `provisioningState`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Provisioning {
    /// `Succeeded`, or no state at all (which ARM defines as succeeded).
    Succeeded,
    /// `Failed` or `Canceled`.
    Failed(String),
    /// Any other, RP-defined value.
    Running(String),
}

impl Provisioning {
    pub fn of(body: Option<&Value>) -> Self {
        let state = body.and_then(crate::response::provisioning_state);
        match state {
            None => Self::Succeeded,
            Some(s) if s.eq_ignore_ascii_case("succeeded") => Self::Succeeded,
            Some(s) if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("canceled") => {
                Self::Failed(s.to_owned())
            }
            Some(s) => Self::Running(s.to_owned()),
        }
    }
}

/// The value of our ownership tag, matched case-insensitively on the tag name as ARM does.
pub(super) fn owner_tag(tags: Option<&Value>) -> Option<&str> {
    let tags = tags?.as_object()?;
    tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(OWNER_TAG)).and_then(|(_, v)| v.as_str())
}

/// Whether an existing resource may be treated as ours.
pub(super) fn owned_by(body: Option<&Value>, owner: &DeploymentId, how: &Ownership) -> bool {
    match how {
        Ownership::Tag => owner_tag(body.and_then(|b| b.get("tags"))) == Some(owner.as_str()),
        // A name derived from the deployment id cannot have been taken by anyone else.
        Ownership::DeterministicName => true,
        // The saga checked the parent before it planned this child.
        Ownership::Parent(_) => true,
    }
}

pub(super) fn not_owned(id: &str, owner: &DeploymentId, body: Option<&Value>) -> StepFailure {
    let found = match owner_tag(body.and_then(|b| b.get("tags"))) {
        Some(other) => format!("tag {OWNER_TAG} is \"{other}\""),
        None => format!("it has no {OWNER_TAG} tag"),
    };
    let message = format!(
        "{id} exists but is not ours ({found}, expected \"{owner}\"); \
         it will not be modified or deleted"
    );
    failure(FailureClass::Permanent, "NotOwned", message, None)
}

impl Invocation<'_> {
    pub(super) async fn ensure(
        &mut self,
        owner: &DeploymentId,
        res: &ArmResource,
    ) -> Result<Outcome, StepFailure> {
        match self.arm.get(&res.id, &res.api_version).await {
            Ok(found) => self.adopt(owner, res, found).await,
            Err(e) if e.is_not_found() => self.create(res).await,
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn ensure_vault(
        &mut self,
        owner: &DeploymentId,
        vault: &VaultResource,
    ) -> Result<Outcome, StepFailure> {
        let res = ArmResource {
            body: without_purge_protection_false(&vault.arm.body),
            ..vault.arm.clone()
        };

        match self.arm.get(&res.id, &res.api_version).await {
            Ok(found) => return self.adopt(owner, &res, found).await,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }

        let body = self.resolve_secrets(&res.body).await?;
        match self.arm.put(&res.id, &res.api_version, &body).await {
            Ok(put) => self.after_put(&res, put).await,
            Err(e) if is_soft_delete_conflict(&e) => {
                self.recover_vault(owner, vault, &res, body).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// B01: the name is held by a soft-deleted vault. Recover it if it is ours (exactly one
    /// more PUT); otherwise the name is unavailable and retrying cannot help.
    async fn recover_vault(
        &mut self,
        owner: &DeploymentId,
        vault: &VaultResource,
        res: &ArmResource,
        mut body: Value,
    ) -> Result<Outcome, StepFailure> {
        let deleted_id = deleted_vault_id(vault);
        let deleted = match self.arm.get(&deleted_id, &res.api_version).await {
            Ok(deleted) => deleted,
            Err(e) if e.is_not_found() => {
                let message = format!(
                    "vault name `{}` is taken by a vault outside this subscription and location \
                     (vault names are global); choose another name",
                    vault.name
                );
                let request_id = e.request_id().map(str::to_owned);
                return Err(failure(
                    FailureClass::Permanent,
                    "VaultNameUnavailable",
                    message,
                    request_id,
                ));
            }
            Err(e) => return Err(e.into()),
        };

        let tag = owner_tag(deleted.body.as_ref().and_then(|b| b.pointer("/properties/tags")));
        if tag != Some(owner.as_str()) {
            let message = format!(
                "vault name `{}` is held by a soft-deleted vault of another owner (tag {tag:?}); \
                 it is not recovered or purged",
                vault.name
            );
            return Err(failure(
                FailureClass::Permanent,
                "VaultNameUnavailable",
                message,
                deleted.request_id,
            ));
        }

        debug!(vault = %vault.name, "recovering soft-deleted vault");
        set_create_mode_recover(&mut body);
        let put = self.arm.put(&res.id, &res.api_version, &body).await?;
        let outcome = self.after_put(res, put).await?;
        Ok(match outcome {
            Outcome::Done { outputs, adopted, request_id, .. } => {
                let note = Some(format!("recovered soft-deleted vault `{}`", vault.name));
                done(outputs, adopted, request_id, note)
            }
            other => other,
        })
    }

    /// An existing resource: ours -> adopt (follow it if still provisioning, re-PUT it if it
    /// failed); not ours -> refuse without writing.
    async fn adopt(
        &mut self,
        owner: &DeploymentId,
        res: &ArmResource,
        found: ArmResponse,
    ) -> Result<Outcome, StepFailure> {
        if !owned_by(found.body.as_ref(), owner, &res.ownership) {
            let refusal = not_owned(&res.id, owner, found.body.as_ref());
            return Err(StepFailure { request_id: found.request_id, ..refusal });
        }

        match Provisioning::of(found.body.as_ref()) {
            Provisioning::Succeeded => {
                self.finish(&res.outputs, &res.id, &res.api_version, found, true, true).await
            }
            Provisioning::Running(state) => {
                debug!(%state, "adopting a resource that is still provisioning");
                Ok(track(
                    &ArmResponse { async_operation_url: None, location_url: None, ..found },
                    &res.id,
                    &res.api_version,
                    false,
                ))
            }
            Provisioning::Failed(state) => {
                // It is ours, so a PUT may drive it again (ARM PUTs are create-or-replace).
                debug!(%state, "re-creating our resource that ended failed");
                self.create(res).await
            }
        }
    }

    async fn create(&mut self, res: &ArmResource) -> Result<Outcome, StepFailure> {
        let body = self.resolve_secrets(&res.body).await?;
        let put = self.arm.put(&res.id, &res.api_version, &body).await?;
        self.after_put(res, put).await
    }

    /// The answer to a PUT: finished, failed, or to be followed.
    pub(super) async fn after_put(
        &mut self,
        res: &ArmResource,
        put: ArmResponse,
    ) -> Result<Outcome, StepFailure> {
        match Provisioning::of(put.body.as_ref()) {
            Provisioning::Succeeded if put.status != 202 => {
                self.finish(&res.outputs, &res.id, &res.api_version, put, false, false).await
            }
            Provisioning::Failed(state) => {
                Err(self.resource_failure(&res.id, put.body.as_ref(), &state, put.request_id))
            }
            _ => Ok(track(&put, &res.id, &res.api_version, false)),
        }
    }

    /// `Done` with outputs from `response`; when some are missing there and `response` was
    /// not itself a GET, the resource is read once more.
    pub(super) async fn finish(
        &mut self,
        selectors: &[OutputSelector],
        id: &str,
        api_version: &str,
        response: ArmResponse,
        from_get: bool,
        adopted: bool,
    ) -> Result<Outcome, StepFailure> {
        let (mut found, mut missing) = outputs::extract(response.body.as_ref(), selectors);
        let mut request_id = response.request_id;

        if !missing.is_empty() && !from_get {
            let fresh = self.arm.get(id, api_version).await?;
            (found, missing) = outputs::extract(fresh.body.as_ref(), selectors);
            request_id = fresh.request_id.or(request_id);
        }

        if !missing.is_empty() {
            let message = format!("{id} has no value for output(s) {}", missing.join(", "));
            return Err(failure(FailureClass::Permanent, "OutputMissing", message, request_id));
        }
        Ok(done(found, adopted, request_id, None))
    }

    /// Why a resource ended `Failed`/`Canceled`: its container instance view if it is a
    /// container group, else whatever error object it carries.
    pub(super) fn resource_failure(
        &self,
        id: &str,
        body: Option<&Value>,
        state: &str,
        request_id: Option<String>,
    ) -> StepFailure {
        let max_restarts = self.exec.config.max_container_restarts;
        if let Some(failure) = body
            .filter(|_| instance_view::is_container_group(id))
            .and_then(|b| instance_view::failure(b, max_restarts))
        {
            return StepFailure { request_id, ..failure };
        }

        let error = body.and_then(|b| b.pointer("/properties/error").or_else(|| b.get("error")));
        let mut facts = FailureFacts::from_error_object(error, "ProvisioningFailed");
        if facts.message.is_empty() {
            facts.message = format!("{id} reached provisioningState {state}");
        }
        facts.request_id = request_id;
        classify(&facts)
    }
}

/// `/subscriptions/{s}/providers/Microsoft.KeyVault/locations/{l}/deletedVaults/{name}`.
pub(super) fn deleted_vault_id(vault: &VaultResource) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
        vault.subscription_id, vault.location, vault.name
    )
}

fn is_soft_delete_conflict(err: &ArmError) -> bool {
    err.status() == Some(409)
        && err
            .code()
            .is_some_and(|c| SOFT_DELETE_CONFLICT_CODES.iter().any(|w| w.eq_ignore_ascii_case(c)))
}

/// Azure rejects `enablePurgeProtection: false` (it can only ever be turned on), so the
/// property is dropped rather than sent as false (B01).
pub(super) fn without_purge_protection_false(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
        let is_off =
            matches!(props.get("enablePurgeProtection"), Some(Value::Bool(false) | Value::Null));
        if is_off {
            props.remove("enablePurgeProtection");
        }
    }
    body
}

fn set_create_mode_recover(body: &mut Value) {
    if !body.get("properties").is_some_and(Value::is_object) {
        body["properties"] = Value::Object(serde_json::Map::new());
    }
    body["properties"]["createMode"] = Value::String("recover".to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owner() -> DeploymentId {
        DeploymentId::new("dep-1").expect("id")
    }

    #[test]
    fn ownership_rules() {
        let ours = json!({"tags": {"Polaris-Deployment": "dep-1"}});
        let theirs = json!({"tags": {"polaris-deployment": "dep-2"}});
        let untagged = json!({"name": "x"});
        assert!(owned_by(Some(&ours), &owner(), &Ownership::Tag));
        assert!(!owned_by(Some(&theirs), &owner(), &Ownership::Tag));
        assert!(!owned_by(Some(&untagged), &owner(), &Ownership::Tag));
        assert!(owned_by(Some(&untagged), &owner(), &Ownership::DeterministicName));
        assert!(owned_by(Some(&untagged), &owner(), &Ownership::Parent("vnet".into())));
    }

    #[test]
    fn purge_protection_false_is_never_sent() {
        let body =
            json!({"properties": {"enablePurgeProtection": false, "sku": {"name": "premium"}}});
        assert_eq!(
            without_purge_protection_false(&body),
            json!({"properties": {"sku": {"name": "premium"}}})
        );
        let on = json!({"properties": {"enablePurgeProtection": true}});
        assert_eq!(without_purge_protection_false(&on), on);
    }

    #[test]
    fn provisioning_states() {
        assert_eq!(Provisioning::of(None), Provisioning::Succeeded);
        let body = json!({"properties": {"provisioningState": "Canceled"}});
        assert_eq!(Provisioning::of(Some(&body)), Provisioning::Failed("Canceled".into()));
        let body = json!({"properties": {"provisioningState": "RegisteringDns"}});
        assert_eq!(Provisioning::of(Some(&body)), Provisioning::Running("RegisteringDns".into()));
    }
}

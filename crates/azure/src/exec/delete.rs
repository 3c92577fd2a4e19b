//! `Delete` and `DeleteVault`: ownership-checked removal. A resource that is already gone
//! counts as deleted; one that is not provably ours is never deleted.

use std::collections::BTreeMap;

use polaris_core::action::{Outcome, StepFailure};
use polaris_core::ids::DeploymentId;
use polaris_core::plan::model::{Ownership, VaultResource};
use serde_json::Value;
use tracing::debug;

use super::ensure::{Provisioning, deleted_vault_id, not_owned, owned_by, owner_tag};
use super::{Invocation, done, track};
use crate::error::ArmError;
use crate::response::ArmResponse;

impl Invocation<'_> {
    pub(super) async fn delete(
        &mut self,
        owner: &DeploymentId,
        id: &str,
        api_version: &str,
        ownership: &Ownership,
    ) -> Result<Outcome, StepFailure> {
        let found = match self.arm.get(id, api_version).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(gone(&e)),
            Err(e) => return Err(e.into()),
        };

        if !owned_by(found.body.as_ref(), owner, ownership) {
            let refusal = not_owned(id, owner, found.body.as_ref());
            return Err(StepFailure { request_id: found.request_id, ..refusal });
        }

        match self.arm.delete(id, api_version).await {
            Ok(answer) => Ok(after_delete(answer, id, api_version)),
            Err(e) if e.is_not_found() => Ok(gone(&e)),
            Err(e) => Err(e.into()),
        }
    }

    /// B27: delete (a synchronous soft delete), then purge unless purge protection forbids
    /// it. A refused purge is an expected end state, not a failure.
    pub(super) async fn delete_vault(
        &mut self,
        owner: &DeploymentId,
        vault: &VaultResource,
    ) -> Result<Outcome, StepFailure> {
        let res = &vault.arm;
        let deleted_id = deleted_vault_id(vault);

        match self.arm.get(&res.id, &res.api_version).await {
            Ok(found) => {
                if !owned_by(found.body.as_ref(), owner, &Ownership::Tag) {
                    let refusal = not_owned(&res.id, owner, found.body.as_ref());
                    return Err(StepFailure { request_id: found.request_id, ..refusal });
                }
                let protected = vault.purge_protection
                    || flag(found.body.as_ref(), "/properties/enablePurgeProtection");

                match self.arm.delete(&res.id, &res.api_version).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                self.after_soft_delete(vault, &deleted_id, protected).await
            }

            Err(e) if e.is_not_found() => {
                self.finish_deleted_vault(owner, vault, &deleted_id).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The vault is not live: purge its soft-deleted remains if they are ours.
    async fn finish_deleted_vault(
        &mut self,
        owner: &DeploymentId,
        vault: &VaultResource,
        deleted_id: &str,
    ) -> Result<Outcome, StepFailure> {
        let api_version = &vault.arm.api_version;
        let deleted = match self.arm.get(deleted_id, api_version).await {
            Ok(deleted) => deleted,
            Err(e) if e.is_not_found() => return Ok(gone(&e)),
            Err(e) => return Err(e.into()),
        };

        let body = deleted.body.as_ref();
        if owner_tag(body.and_then(|b| b.pointer("/properties/tags"))) != Some(owner.as_str()) {
            let note = format!(
                "a soft-deleted vault `{}` exists but is not ours; left alone",
                vault.name
            );
            return Ok(done(BTreeMap::new(), false, deleted.request_id, Some(note)));
        }

        let protected = vault.purge_protection || flag(body, "/properties/purgeProtectionEnabled");
        self.after_soft_delete(vault, deleted_id, protected).await
    }

    async fn after_soft_delete(
        &mut self,
        vault: &VaultResource,
        deleted_id: &str,
        protected: bool,
    ) -> Result<Outcome, StepFailure> {
        if protected {
            return self.retained(vault, deleted_id).await;
        }

        let purge_id = format!("{deleted_id}/purge");
        match self.arm.post(&purge_id, &vault.arm.api_version, None).await {
            Ok(answer) if answer.status == 202 || answer.async_operation_url.is_some() => {
                Ok(track(&answer, deleted_id, &vault.arm.api_version, true))
            }
            Ok(answer) => {
                let note = format!("vault `{}` deleted and purged", vault.name);
                Ok(done(BTreeMap::new(), false, answer.request_id, Some(note)))
            }
            Err(e) if e.is_not_found() => Ok(gone(&e)),
            Err(e) if purge_refused(&e) => {
                debug!(code = ?e.code(), "purge refused; keeping the soft-deleted vault");
                self.retained(vault, deleted_id).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `Done` for a vault that stays soft-deleted until its retention ends, with that date.
    async fn retained(
        &mut self,
        vault: &VaultResource,
        deleted_id: &str,
    ) -> Result<Outcome, StepFailure> {
        let (until, request_id) = match self.arm.get(deleted_id, &vault.arm.api_version).await {
            Ok(deleted) => {
                let date = deleted
                    .body
                    .as_ref()
                    .and_then(|b| b.pointer("/properties/scheduledPurgeDate"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                (date, deleted.request_id)
            }
            // The date is informative; a failure to read it must not fail the teardown.
            Err(e) => (None, e.request_id().map(str::to_owned)),
        };

        let mut outputs = BTreeMap::new();
        let note = match &until {
            Some(date) => {
                outputs.insert("retained_until".to_owned(), date.clone());
                format!("soft-deleted; purge protection keeps it until {date}")
            }
            None => "soft-deleted; purge protection keeps it until its retention ends".to_owned(),
        };
        Ok(done(outputs, false, request_id, Some(note)))
    }
}

/// The answer to a DELETE: done, or to be followed until the resource is gone.
fn after_delete(answer: ArmResponse, id: &str, api_version: &str) -> Outcome {
    let still_deleting =
        matches!(Provisioning::of(answer.body.as_ref()), Provisioning::Running(_));
    if answer.status == 202 || still_deleting {
        return track(&answer, id, api_version, true);
    }
    done(BTreeMap::new(), false, answer.request_id, None)
}

/// `Done` for something already gone (404).
fn gone(err: &ArmError) -> Outcome {
    let request_id = err.request_id().map(str::to_owned);
    done(BTreeMap::new(), false, request_id, Some("already gone".to_owned()))
}

fn flag(body: Option<&Value>, pointer: &str) -> bool {
    body.and_then(|b| b.pointer(pointer)).and_then(Value::as_bool).unwrap_or(false)
}

/// A purge refused because of purge protection: `MethodNotAllowed` always (B27's
/// `DeletedVaultPurge` not allowed), 403/409 when the message says so.
fn purge_refused(err: &ArmError) -> bool {
    let Some(service) = err.service() else { return false };
    if service.status == 405 || service.code.eq_ignore_ascii_case("MethodNotAllowed") {
        return true;
    }
    let text = service.all_text().to_lowercase().replace(['-', ' '], "");
    matches!(service.status, 403 | 409) && text.contains("purgeprotection")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceError;

    fn err(status: u16, code: &str, message: &str) -> ArmError {
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        ArmError::Service(Box::new(ServiceError::from_body(status, body.to_string().as_bytes())))
    }

    #[test]
    fn purge_refusals() {
        assert!(purge_refused(&err(405, "MethodNotAllowed", "DeletedVaultPurge not allowed")));
        assert!(purge_refused(&err(403, "Forbidden", "purge protection is enabled")));
        assert!(purge_refused(&err(409, "Conflict", "Purge-protection forbids it")));
        assert!(!purge_refused(&err(403, "AuthorizationFailed", "no permission")));
    }
}

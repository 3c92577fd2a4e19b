//! `Poll`: one look at an operation started earlier, following ARM's LRO rules:
//! `Azure-AsyncOperation` always answers 200 with a `status`; `Location` answers 202 until
//! done and then the final result; otherwise the resource's `provisioningState` tells.

use std::collections::BTreeMap;

use polaris_core::action::{OperationKind, Outcome, PendingOperation, StepFailure};
use polaris_core::plan::model::OutputSelector;
use serde_json::Value;
use tracing::debug;

use super::classify::{FailureFacts, classify};
use super::ensure::Provisioning;
use super::{Invocation, done, instance_view};

impl Invocation<'_> {
    pub(super) async fn poll(
        &mut self,
        op: &PendingOperation,
        outputs: &[OutputSelector],
    ) -> Result<Outcome, StepFailure> {
        match op.kind {
            OperationKind::AsyncOperation => self.poll_async_operation(op, outputs).await,
            OperationKind::Location => self.poll_location(op, outputs).await,
            OperationKind::ResourceState => self.poll_resource(op, outputs).await,
            OperationKind::ResourceGone => self.poll_gone(op).await,
            OperationKind::Health => {
                let key_release = Some(op.resource_id.as_str()).filter(|u| !u.is_empty());
                Ok(self.probe(&op.url, key_release).await)
            }
        }
    }

    async fn poll_async_operation(
        &mut self,
        op: &PendingOperation,
        outputs: &[OutputSelector],
    ) -> Result<Outcome, StepFailure> {
        let answer = match self.arm.get_url(&op.url).await {
            Ok(answer) => answer,
            // The status resource expired or never existed: fall back to the resource.
            Err(e) if e.is_not_found() => {
                return Ok(still(&fallback(op), None, e.request_id().map(str::to_owned)));
            }
            Err(e) => return Err(e.into()),
        };

        let body = answer.body.unwrap_or(Value::Null);
        let status = body.get("status").and_then(Value::as_str).unwrap_or("");

        if status.eq_ignore_ascii_case("succeeded") {
            if op.removing {
                return Ok(done(BTreeMap::new(), false, answer.request_id, None));
            }
            return self.read_result(op, outputs).await;
        }

        if status.eq_ignore_ascii_case("failed") || status.eq_ignore_ascii_case("canceled") {
            let mut facts = FailureFacts::from_error_object(body.get("error"), status);
            facts.request_id = answer.request_id;
            return Err(classify(&facts));
        }

        self.check_container_group(op).await?;
        Ok(still(op, answer.retry_after_secs, answer.request_id))
    }

    async fn poll_location(
        &mut self,
        op: &PendingOperation,
        outputs: &[OutputSelector],
    ) -> Result<Outcome, StepFailure> {
        match self.arm.get_url(&op.url).await {
            Ok(answer) if answer.status == 202 => {
                Ok(still(op, answer.retry_after_secs, answer.request_id))
            }
            Ok(answer) if op.removing => Ok(done(BTreeMap::new(), false, answer.request_id, None)),
            Ok(_) => self.read_result(op, outputs).await,
            // A resource-scoped operationResults URL disappears with the resource.
            Err(e) if e.is_not_found() && op.removing => {
                Ok(done(BTreeMap::new(), false, e.request_id().map(str::to_owned), None))
            }
            Err(e) if e.is_not_found() => {
                Ok(still(&fallback(op), None, e.request_id().map(str::to_owned)))
            }
            // Any other error status is the operation's own (synchronous-equivalent) result.
            Err(e) => Err(e.into()),
        }
    }

    async fn poll_resource(
        &mut self,
        op: &PendingOperation,
        outputs: &[OutputSelector],
    ) -> Result<Outcome, StepFailure> {
        let found = match self.arm.get(&op.resource_id, &op.api_version).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() && op.removing => {
                return Ok(done(BTreeMap::new(), false, e.request_id().map(str::to_owned), None));
            }
            // A resource created through a 202 stays invisible until the create completes.
            Err(e) if e.is_not_found() => {
                return Ok(still(op, None, e.request_id().map(str::to_owned)));
            }
            Err(e) => return Err(e.into()),
        };

        match Provisioning::of(found.body.as_ref()) {
            Provisioning::Succeeded if !op.removing => {
                let (id, api) = (op.resource_id.clone(), op.api_version.clone());
                self.finish(outputs, &id, &api, found, true, false).await
            }
            Provisioning::Failed(state) => Err(self.resource_failure(
                &op.resource_id,
                found.body.as_ref(),
                &state,
                found.request_id,
            )),
            _ => {
                self.check_instance_view(op, found.body.as_ref(), found.request_id.clone())?;
                Ok(still(op, found.retry_after_secs, found.request_id))
            }
        }
    }

    async fn poll_gone(&mut self, op: &PendingOperation) -> Result<Outcome, StepFailure> {
        match self.arm.get(&op.resource_id, &op.api_version).await {
            Err(e) if e.is_not_found() => {
                Ok(done(BTreeMap::new(), false, e.request_id().map(str::to_owned), None))
            }
            Err(e) => Err(e.into()),
            Ok(found) => Ok(still(op, found.retry_after_secs, found.request_id)),
        }
    }

    /// The final GET after an operation succeeded: the resource's outputs, or keep following
    /// it if ARM's caches have not caught up with the operation yet.
    async fn read_result(
        &mut self,
        op: &PendingOperation,
        outputs: &[OutputSelector],
    ) -> Result<Outcome, StepFailure> {
        let resource_state = PendingOperation { kind: OperationKind::ResourceState, ..op.clone() };
        self.poll_resource(&resource_state, outputs).await
    }

    /// B12: while a container group is still being created, look at its containers.
    async fn check_container_group(&mut self, op: &PendingOperation) -> Result<(), StepFailure> {
        if op.removing || !instance_view::is_container_group(&op.resource_id) {
            return Ok(());
        }
        match self.arm.get(&op.resource_id, &op.api_version).await {
            Ok(found) => self.check_instance_view(op, found.body.as_ref(), found.request_id),
            // Best effort: the operation status is what this poll is about.
            Err(e) => {
                debug!(error = %e.summary(), "cannot read the container group's instance view");
                Ok(())
            }
        }
    }

    fn check_instance_view(
        &self,
        op: &PendingOperation,
        body: Option<&Value>,
        request_id: Option<String>,
    ) -> Result<(), StepFailure> {
        if op.removing || !instance_view::is_container_group(&op.resource_id) {
            return Ok(());
        }
        let max_restarts = self.exec.config.max_container_restarts;
        match body.and_then(|b| instance_view::failure(b, max_restarts)) {
            Some(failure) => Err(StepFailure { request_id, ..failure }),
            None => Ok(()),
        }
    }
}

/// Follow the resource itself instead of an operation URL.
fn fallback(op: &PendingOperation) -> PendingOperation {
    let kind =
        if op.removing { OperationKind::ResourceGone } else { OperationKind::ResourceState };
    PendingOperation { kind, url: op.resource_id.clone(), ..op.clone() }
}

fn still(
    op: &PendingOperation,
    retry_after_secs: Option<u64>,
    request_id: Option<String>,
) -> Outcome {
    Outcome::InProgress { operation: op.clone(), retry_after_secs, request_id }
}

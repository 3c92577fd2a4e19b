//! The executor: performs one core [`Action`] against ARM (a few requests at most, never a
//! long wait) and reports an [`Outcome`].
//!
//! Each `execute` call is one invocation: its requests share one wait budget, so however
//! many GETs and PUTs an action needs, in-process retries never wait longer in total than
//! the budget allows; longer waits come back as `retry_after_secs` for the saga to schedule.
//!
//! # Guarantees
//! - A resource that is not provably ours (see `Ownership`) is never PUT over or deleted.
//! - Secrets are resolved only into the outgoing request body; bodies are never logged, and
//!   every resolved value is redacted from reported messages.
//! - Every outcome carries the `x-ms-request-id` of the last Azure answer it depends on.

mod classify;
mod delete;
mod ensure;
mod health;
mod instance_view;
mod key;
mod outputs;
mod poll;
mod secrets;
mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use polaris_core::action::{
    Action, ExecContext, FailureClass, OperationKind, Outcome, PendingOperation, StepFailure,
};
use polaris_core::ports::SecretStore;
use tracing::{Instrument, debug, info_span, warn};

use crate::arm::ArmClient;
use crate::keyvault::KeyVaultClient;
use crate::response::ArmResponse;
use crate::retry::WaitBudget;

pub use classify::{FailureFacts, classify};
pub use key::release_policy_matches;

/// Knobs of the executor that are not about ARM itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorConfig {
    /// Timeout of one proxy liveness probe.
    pub health_timeout: Duration,
    /// Timeout of one key-release probe; the proxy may block while the sidecar retries.
    pub key_release_timeout: Duration,
    /// Restarts of one container, while its group is still being created, that count as a
    /// crash loop (B12).
    pub max_container_restarts: u32,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            health_timeout: Duration::from_secs(5),
            key_release_timeout: Duration::from_secs(20),
            max_container_restarts: 3,
        }
    }
}

/// Performs [`Action`]s against ARM, Key Vault and the deployed proxy.
#[derive(Clone)]
pub struct ArmExecutor {
    arm: ArmClient,
    keyvault: KeyVaultClient,
    secrets: Arc<dyn SecretStore>,
    /// Plain HTTP for health probes of the deployed proxy (never carries a token).
    http: reqwest::Client,
    config: ExecutorConfig,
}

impl fmt::Debug for ArmExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmExecutor")
            .field("arm", &self.arm)
            .field("keyvault", &self.keyvault)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ArmExecutor {
    pub fn new(
        arm: ArmClient,
        keyvault: KeyVaultClient,
        secrets: Arc<dyn SecretStore>,
        config: ExecutorConfig,
    ) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.health_timeout)
            .build()
            .unwrap_or_default();
        Self { arm, keyvault, secrets, http, config }
    }

    /// Replaces the client used for health probes.
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    /// Performs `action` once. Never panics and never returns an error: every failure is an
    /// `Outcome::Failed` with a class that tells the saga what to do next.
    pub async fn execute(&self, action: &Action, ctx: &ExecContext) -> Outcome {
        let span = info_span!(
            "execute",
            deployment_id = %ctx.deployment_id,
            step = %ctx.step,
            attempt = ctx.attempt,
            action = action_name(action),
        );

        async {
            let mut invocation = Invocation::new(self, ctx);
            let outcome = match invocation.run(action).await {
                Ok(outcome) => outcome,
                Err(failure) => Outcome::Failed(invocation.redact(failure)),
            };
            log_outcome(&outcome);
            outcome
        }
        .instrument(span)
        .await
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::Ensure { .. } => "ensure",
        Action::EnsureVault { .. } => "ensure_vault",
        Action::EnsureKey { .. } => "ensure_key",
        Action::Verify { .. } => "verify",
        Action::Poll { .. } => "poll",
        Action::Delete { .. } => "delete",
        Action::DeleteVault { .. } => "delete_vault",
        Action::HealthCheck { .. } => "health_check",
    }
}

fn log_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Done { adopted, request_id, .. } => {
            debug!(adopted, ?request_id, "action done");
        }
        Outcome::InProgress { operation, retry_after_secs, .. } => {
            debug!(kind = ?operation.kind, ?retry_after_secs, "action in progress");
        }
        Outcome::Failed(f) if f.class == FailureClass::Permanent => {
            warn!(code = %f.code, request_id = ?f.request_id, "action failed permanently");
        }
        Outcome::Failed(f) => {
            debug!(class = ?f.class, code = %f.code, retry_after = ?f.retry_after_secs, "failed");
        }
    }
}

/// The state of one `execute` call: clients scoped to its wait budget, and what must be
/// redacted from its messages.
pub(crate) struct Invocation<'a> {
    exec: &'a ArmExecutor,
    ctx: &'a ExecContext,
    arm: ArmClient,
    budget: WaitBudget,
    redactor: secrets::Redactor,
}

impl<'a> Invocation<'a> {
    fn new(exec: &'a ArmExecutor, ctx: &'a ExecContext) -> Self {
        let budget = exec.arm.new_budget();
        Self {
            exec,
            ctx,
            arm: exec.arm.scoped(budget.clone()),
            budget,
            redactor: secrets::Redactor::default(),
        }
    }

    async fn run(&mut self, action: &Action) -> Result<Outcome, StepFailure> {
        match action {
            Action::Ensure { owner, resource } => self.ensure(owner, resource).await,
            Action::EnsureVault { owner, vault } => self.ensure_vault(owner, vault).await,
            Action::EnsureKey { owner, key } => self.ensure_key(owner, key).await,
            Action::Verify { resource } => self.verify(resource).await,
            Action::Poll { operation, outputs } => self.poll(operation, outputs).await,
            Action::Delete { owner, id, api_version, ownership } => {
                self.delete(owner, id, api_version, ownership).await
            }
            Action::DeleteVault { owner, vault } => self.delete_vault(owner, vault).await,
            Action::HealthCheck { check } => self.health_check(check).await,
        }
    }

    /// Resolves `${secret:..}` placeholders for the request about to be sent.
    async fn resolve_secrets(
        &mut self,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, StepFailure> {
        let deployment = self.ctx.deployment_id.as_str();
        secrets::resolve(self.exec.secrets.as_ref(), deployment, body, &mut self.redactor).await
    }

    fn redact(&self, failure: StepFailure) -> StepFailure {
        StepFailure { message: self.redactor.redact(&failure.message), ..failure }
    }
}

/// `Done` with the given outputs.
fn done(
    outputs: BTreeMap<String, String>,
    adopted: bool,
    request_id: Option<String>,
    note: Option<String>,
) -> Outcome {
    Outcome::Done { outputs, adopted, request_id, note }
}

/// Picks how to follow an accepted write: `Azure-AsyncOperation` first, then `Location`
/// (only meaningful on 201/202), then the resource itself.
fn track(response: &ArmResponse, resource_id: &str, api_version: &str, removing: bool) -> Outcome {
    let location = response.location_url.as_ref().filter(|_| matches!(response.status, 201 | 202));
    let (kind, url) = match (&response.async_operation_url, location) {
        (Some(url), _) => (OperationKind::AsyncOperation, url.clone()),
        (None, Some(url)) => (OperationKind::Location, url.clone()),
        (None, None) if removing => (OperationKind::ResourceGone, resource_id.to_owned()),
        (None, None) => (OperationKind::ResourceState, resource_id.to_owned()),
    };

    Outcome::InProgress {
        operation: PendingOperation {
            kind,
            url,
            resource_id: resource_id.to_owned(),
            api_version: api_version.to_owned(),
            removing,
        },
        retry_after_secs: response.retry_after_secs,
        request_id: response.request_id.clone(),
    }
}

/// A failure of our own making (not an Azure error), tied to the last Azure answer.
fn failure(
    class: FailureClass,
    code: &str,
    message: impl Into<String>,
    request_id: Option<String>,
) -> StepFailure {
    StepFailure { request_id, ..StepFailure::new(class, code, message) }
}

/// The worker runs `execute` inside `tokio::spawn` and behind `async_trait`, which need the
/// future to be `Send` for every borrow lifetime. This compiles only while no future in the
/// executor holds a closure-typed retry future (see `retry::with_retries`).
#[cfg(test)]
mod send_check {
    fn require_send<T: Send + 'static>(_: T) {}

    #[allow(dead_code)]
    fn execute_future_is_send(
        exec: super::ArmExecutor,
        a: polaris_core::action::Action,
        c: polaris_core::action::ExecContext,
    ) {
        require_send(async move { exec.execute(&a, &c).await });
    }
}

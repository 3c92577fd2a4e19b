//! Executor wrappers for the saga tests: fail a chosen step after its work took effect, run
//! undos twice, run every forward action twice. They sit between the saga and the real
//! executor, so the simulator sees every request a doubled action makes.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use polaris_core::action::{Action, ExecContext, FailureClass, Outcome, StepFailure};
use polaris_core::ports::Executor;

/// What the wrapper does to the actions it sees; the parts combine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    /// The forward action of this step does its work, then reports a permanent failure.
    pub fail_do: Option<String>,
    /// The undo action of this step does its work, then reports a permanent failure, once.
    pub fail_undo_once: Option<String>,
    /// Every undo action runs twice; the second outcome counts.
    pub undo_twice: bool,
    /// Every forward action runs twice; the second outcome counts.
    pub do_twice: bool,
}

pub struct InjectingExecutor {
    pub inner: Arc<dyn Executor>,
    pub injection: Injection,
    /// Steps whose undo already failed once.
    failed_once: Mutex<BTreeSet<String>>,
}

impl InjectingExecutor {
    pub fn new(inner: Arc<dyn Executor>, injection: Injection) -> Self {
        Self { inner, injection, failed_once: Mutex::new(BTreeSet::new()) }
    }
}

/// True for actions of the undo phase.
pub fn is_undo(action: &Action) -> bool {
    match action {
        Action::Delete { .. } | Action::DeleteVault { .. } => true,
        Action::Poll { operation, .. } => operation.removing,
        _ => false,
    }
}

fn injected(what: &str) -> Outcome {
    Outcome::Failed(StepFailure::new(
        FailureClass::Permanent,
        "InjectedFailure",
        format!("the chaos harness failed this {what} after it took effect"),
    ))
}

#[async_trait]
impl Executor for InjectingExecutor {
    async fn execute(&self, action: &Action, ctx: &ExecContext) -> Outcome {
        let undo = is_undo(action);
        let step = ctx.step.as_str();
        let twice = if undo { self.injection.undo_twice } else { self.injection.do_twice };
        if twice {
            let _ = self.inner.execute(action, ctx).await;
        }
        let outcome = self.inner.execute(action, ctx).await;
        if !matches!(outcome, Outcome::Done { .. }) {
            return outcome;
        }

        if !undo && self.injection.fail_do.as_deref() == Some(step) {
            return injected("step");
        }
        if undo && self.injection.fail_undo_once.as_deref() == Some(step) {
            let mut failed = self.failed_once.lock().unwrap_or_else(|e| e.into_inner());
            if failed.insert(step.to_owned()) {
                return injected("undo");
            }
        }
        outcome
    }
}

use crate::ids::StepName;

use super::state::{DeploymentStatus, StepStatus};

/// Why the saga refused an event. Each is a bug or a race the caller must handle, never a
/// condition to retry blindly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SagaError {
    #[error("event `{event}` is not allowed while the deployment is {status:?}")]
    IllegalTransition { event: &'static str, status: DeploymentStatus },
    #[error("step `{step}` is not in the plan")]
    UnknownStep { step: StepName },
    #[error("step `{step}` cannot go from {from:?} on `{event}`")]
    IllegalStepTransition { step: StepName, from: StepStatus, event: &'static str },
    #[error("placeholder `{placeholder}` refers to an output that step `{step}` has not recorded")]
    UnresolvedPlaceholder { step: StepName, placeholder: String },
    #[error("step `{step}` refers to `{placeholder}`, but does not depend on that step")]
    PlaceholderNotADependency { step: StepName, placeholder: String },
    #[error("step `{step}` depends on `{missing}`, which is not in the plan")]
    MissingDependency { step: StepName, missing: StepName },
    #[error("the plan's dependency graph has a cycle through `{step}`")]
    Cycle { step: StepName },
}
